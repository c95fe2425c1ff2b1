"""Networks over HTTP: which are installed and what each allows."""
