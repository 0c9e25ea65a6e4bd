# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
DOCUMENTATION = r"""
module: sim_ps_module
short_description: TEST ONLY - a PowerShell module for the simulator's exec wrapper test
description: [Runs nothing; the simulated host answers the exec wrapper with a success.]
options:
  script: {description: [Any text.], type: str, required: true}
author: [hyperv.checkpoint contributors]
"""
