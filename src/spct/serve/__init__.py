"""Putting a GRM to work in other systems: the HTTP server and the RL trainers' reward functions."""
