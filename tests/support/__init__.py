"""The one home of what tests share: emulator clients, tables, state checks."""
