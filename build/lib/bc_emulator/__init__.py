"""A Business Central plug-in unit emulator: the DWWebService SOAP codeunit over real HTTP."""
