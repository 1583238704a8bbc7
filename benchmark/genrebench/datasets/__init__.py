"""Data set loading: the loaders of real data sets, the synthetic sets, the evaluation
protocols (which split a job uses, which caps it obeys) and the run-time files shipped
beside the package."""
