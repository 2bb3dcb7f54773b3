__version__ = "0.1.0"

# Bumped whenever a saved forecaster's layout changes in a way that older or
# newer code cannot read.
ARTIFACT_FORMAT = 1
