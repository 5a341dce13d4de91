"""Server-rendered pages: components, templates, static files and translations."""
