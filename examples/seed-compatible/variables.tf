# This example takes no inputs: the table names are fixed by what it stays compatible with.
