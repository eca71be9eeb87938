"""Foundation: what every layer may use and that knows nothing of the model.

Time units and durations, the error hierarchy, named random streams, argument checks,
progress bars and the package version. Imports nothing else of ``sim``.
"""
