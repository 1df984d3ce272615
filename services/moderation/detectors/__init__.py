"""One module per detector kind; each turns one rule's config into a pure check."""
