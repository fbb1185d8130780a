/* The preferred-agent picker on the work item form (workitems/admin/workitem_form.py AgentPicker).
   Turns the plain multiple select of the queue's members into a search by name (the admin's own
   select2), asking the portal for the members of the queue the form has chosen at that moment:
   the queue field's value, else the worktype's default queue. Without script the plain select
   still works. No inline script: the page's Content-Security-Policy allows none. */
'use strict';
{
    const $ = django.jQuery;

    function queueOf(element) {
        const input = document.getElementById(element.dataset.queueInput);
        return (input && input.value) || element.dataset.defaultQueue || '';
    }

    function init(element) {
        $(element).select2({
            width: 'resolve',
            theme: 'admin-autocomplete',
            placeholder: element.dataset.placeholder,
            allowClear: false,
            ajax: {
                url: element.dataset.agentsUrl,
                dataType: 'json',
                delay: 250,
                cache: false,
                data: (params) => ({
                    term: params.term || '',
                    page: params.page || 1,
                    queue: queueOf(element),
                }),
            },
        });
    }

    $(document).ready(() => {
        document.querySelectorAll('select.agent-picker').forEach(init);
    });
}
