"""vim25: the type model, its values and its wire (stand-in until the generated model lands)."""
