#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation of the module. The module is implemented by the action
# plugin plugins/action/safe_change_step.py, which runs on the controller.

DOCUMENTATION = r"""
---
module: safe_change_step
short_description: One step of the role hyperv.checkpoint.safe_change (internal to the role)
version_added: 0.2.0
description:
  - The steps the role C(hyperv.checkpoint.safe_change) is made
    of. The role's tasks call it; it is documented so that its output can be read, not to be used in playbooks. Its
    options may change in any release.
  - V(prepare) runs on the guest and reads nothing on the Hyper-V host. It checks the role's variables together, warns
    about C(safe_change_*) variables the role does not know, loads the change (C(safe_change_tasks) or
    C(safe_change_role)) and the user's verification tasks the way the play will and checks that every module they
    name resolves, names the checkpoint, and checks that the guest answers.
  - V(checkpoint) runs on the Hyper-V host (C(delegate_to)). It reads the VM, runs the pre-flight checks, removes or
    reuses the checkpoints left by earlier runs as C(safe_change_stale_policy) says, takes the checkpoint and makes
    sure no other run took one at the same moment (the lock). In check mode it only reads and says what a real run
    would do.
  - V(verify) runs on the guest. It waits until the guest answers, then checks the services, the URL and the command of
    the role's variables. It fails the task when a check fails, so that the role's C(rescue) reverts the change.
  - V(revert) runs on the Hyper-V host when the change or its verification failed (the role's C(rescue)). It restores
    the checkpoint and brings the VM back to its power state; a failed restore is reported loudly and the checkpoint
    is kept, renamed to end in C(revert-failed). V(finish) runs after the verification that follows a restore and
    deletes the checkpoint (or keeps it when that verification failed).
  - V(settle) runs on the Hyper-V host at the end of every run. After a successful change it deletes the checkpoint
    and waits for the disk merge, or keeps it renamed to end in C(kept-until <UTC time>). It returns the guest's
    result, which the role sets as the fact C(safe_change_result).
  - V(summary) runs once per play (C(run_once)). It prints the summary table and publishes the C(set_stats) artifacts of
    docs/artifacts.md.
  - V(form_groups), V(group_checkpoint) and V(gate) run once per batch for application groups (C(safe_change_group)).
    V(form_groups) decides, after every guest's pre-flight, which groups take their checkpoints (all members in the
    batch and the play, every member's pre-flight passed); V(group_checkpoint) takes one member's checkpoint (a loop
    over the members, delegated to each member's Hyper-V host); V(gate) gives the run every guest goes on with (a group
    one of whose checkpoints failed is withdrawn). V(group_check) runs on each member after its verification and fails
    it when another member did not pass, so that the whole group reverts.
  - Each step takes only its own options.
  - No step fails the task for what happens to the change (but V(verify) and V(group_check)); the role fails the guest
    at its end.
options:
  step:
    description: The step to run.
    type: str
    required: true
    choices: [prepare, checkpoint, form_groups, group_checkpoint, gate, verify, group_check, revert, finish, settle,
              summary]
  run:
    description:
      - The run's state, as the step before returned it (RV(run)); required by every step but V(prepare),
        V(form_groups), V(gate) and V(summary).
      - When it is not given, V(checkpoint) and V(verify) take the run of the role's registered V(prepare) result, and
        V(settle) the guest's run in the registered V(gate) result (V(settle) also takes O(verified), O(reverted) and
        O(finished) from the role's registered results). The role's tasks give none of these, which saves every worker
        the templating of the run.
    type: dict
  verified:
    description: The registered result of the step V(verify) (V(revert), V(settle), V(finish)).
    type: raw
  failure:
    description: What the role's C(rescue) captured of the failed task (V(revert), V(finish)).
    type: raw
  reverted:
    description: The registered result of the step V(revert) (V(settle)).
    type: raw
  formed:
    description: V(gate) - what V(form_groups) returned (RV(formed)).
    type: raw
  created:
    description: V(gate) - the C(results) of the registered loop of V(group_checkpoint).
    type: list
    elements: dict
  gate:
    description: V(group_check) - what V(gate) returned.
    type: raw
  finished:
    description: The registered result of the step V(finish) (V(settle)).
    type: raw
  phase:
    description:
      - Whether V(verify) checks the change or the state after a revert.
      - When it is not given, the role's variable C(safe_change_phase), else V(after_change).
    type: str
    choices: [after_change, after_revert]
  reachable_only:
    description: V(verify) only waits until the guest answers.
    type: bool
    default: false
  summary:
    description: V(summary) prints the summary table.
    type: bool
    default: true
  set_stats:
    description: V(summary) publishes the artifacts with C(set_stats).
    type: bool
    default: true
  results_file:
    description: V(summary) also writes the artifacts as JSON to this file on the controller (empty - no file).
    type: str
    default: ""
attributes:
  check_mode:
    description: In check mode V(checkpoint) only reads the Hyper-V host and reports what a real run would do; the role
      skips the change.
    support: full
  platform:
    description: V(checkpoint), V(settle) and V(finish) target a Windows Hyper-V host; V(prepare) and V(verify) a guest
      of any operating system.
    support: full
    platforms: windows, posix
seealso:
  - module: hyperv.checkpoint.hyperv_checkpoint
    description: The module the steps use for every change on the Hyper-V host.
  - module: hyperv.checkpoint.safe_change_hold
    description: The checkpoint of a change made by hand (playbooks/checkpoint.yml), which the role can adopt.
  - module: hyperv.checkpoint.safe_change_batches
    description: Serial batches that keep application groups whole (playbooks/patch_window.yml).
extends_documentation_fragment:
  - hyperv.checkpoint._role_step
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
"""

EXAMPLES = r"""
# The role hyperv.checkpoint.safe_change is the way to use these steps:
- name: Deploy release 42 safely
  hosts: guests
  gather_facts: false
  vars:
    safe_change_id: CHG0042
    safe_change_tasks: "{{ playbook_dir }}/tasks/deploy_release.yml"
    safe_change_verify_services: [W3SVC]
  roles:
    - hyperv.checkpoint.safe_change
"""

RETURN = r"""
run:
  description:
    - The run's state after the step, for the next step. Its keys are internal to the role and may change.
    - Its key C(proceed) tells whether the run goes on; C(reason) why it stopped.
  returned: steps prepare, checkpoint, revert, finish and settle
  type: dict
  sample: {"proceed": true, "reason": "", "vm": "web01", "hyperv_host": "hv01", "outcome": ""}
record:
  description: The result of the guest, as the role sets it in the fact C(safe_change_result) (see the role's README).
  returned: steps revert, finish and settle
  type: dict
  sample: {"outcome": "committed", "failed": false, "needs_attention": false,
           "summary": "change and verification passed; checkpoint deleted"}
run_id:
  description: The run the verification belongs to.
  returned: step verify
  type: str
  sample: 6f1c2b0e8d9a4b5c9e7f1a2b3c4d5e6f
formed:
  description: V(form_groups) - the groups of the batch (members, orders, why a group is refused), the run of each guest
    and the members whose checkpoints the group step takes.
  returned: step form_groups
  type: dict
  sample: {"groups": {"shop": {"members": ["db01", "web01"], "problem": null}}, "create": ["db01", "web01"]}
runs:
  description: V(gate) - the run each guest of the batch goes on with.
  returned: step gate
  type: dict
  sample: {"web01": {"proceed": true, "group": "shop"}}
groups:
  description: V(gate) - the application groups of the batch.
  returned: step gate
  type: dict
  sample: {"shop": {"members": ["db01", "web01"], "problem": null, "cause": ""}}
levels:
  description: V(gate) - the group orders of the batch, lowest first, when there are several.
  returned: step gate
  type: list
  elements: int
  sample: [0, 1]
revert_levels:
  description: V(gate) - the levels the reverts run at, highest first (one level V(null) without orders).
  returned: step gate
  type: list
  sample: [1, 0]
final:
  description: V(verify) with O(reachable_only) - the mark of a verification that passed, which V(group_check) looks for.
  returned: step verify with reachable_only
  type: bool
  sample: true
group_failure:
  description: V(group_check) - the task failed because another member of the group did not pass.
  returned: step group_check, when it fails
  type: bool
  sample: true
records:
  description: V(summary) - the result of each guest of the batch, as the role sets it in C(safe_change_result).
  returned: step summary
  type: dict
  sample: {"web01": {"outcome": "committed"}}
started_at:
  description: When the step started (seconds since the epoch, controller clock); the role's durations come from these.
  returned: always
  type: float
  sample: 1764077715.3
ended_at:
  description: When the step ended (seconds since the epoch, controller clock); a failed verification's own end.
  returned: always
  type: float
  sample: 1764077716.1
"""
