"""Plugin loading and the registry of what plugins provide (:mod:`.loading`), with the checks
run when they load (:mod:`.checks`), and the environment variables that steer loading."""

#: ``=1``: load no entry-point plugins, only the builtins (pytest's
#: ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).
ENV_DISABLE = "GENREBENCH_DISABLE_PLUGIN_AUTOLOAD"
#: ``name1,name2`` loads only those entry points, ``-name`` all but that one.
ENV_ONLY = "GENREBENCH_PLUGINS"
#: ``=1``: a plugin that fails to load stops the command line (``--strict-plugins``).
ENV_STRICT = "GENREBENCH_STRICT_PLUGINS"
