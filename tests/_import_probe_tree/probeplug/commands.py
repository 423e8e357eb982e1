from probekit.cli._common import STATE  # a private module of another distribution's package
from probekit.cli.plugin_api import STATE as PUBLIC_STATE  # the public way: allowed
from probekit.eval.runner import _private_helper  # a private name of another package
