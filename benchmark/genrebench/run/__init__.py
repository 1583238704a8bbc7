"""The run: options and planning, a job as named stages, the runner and its executors,
k-fold pooling, ensembles, suites, progress lines, and the run loop (session) that the
command line, the benchmarks and the tests call."""
