"""The unit's pages, one module for each kind of person who uses them: families, nurses and administrators, and the
invitation slips that both parents and nurses issue."""
