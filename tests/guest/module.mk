# placeholder: the probe guest build goes here
