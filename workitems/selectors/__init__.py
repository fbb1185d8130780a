"""Read-side queries (selectors): they compute, never write."""
