"""Features of the bot, one module each; every public module here is loaded at start-up."""
