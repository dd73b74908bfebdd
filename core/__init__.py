"""What both Django apps share and neither owns: the application error every rule raises."""
