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
  - V(plan), V(group_checkpoint) and V(gate) run once per batch for application groups (C(safe_change_group)). V(plan)
    decides, after every guest's pre-flight, which groups take their checkpoints (all members in the batch and the
    play, every member's pre-flight passed); V(group_checkpoint) takes one member's checkpoint (a loop over the
    members, delegated to each member's Hyper-V host); V(gate) gives the state every guest goes on with (a group one of
    whose checkpoints failed is withdrawn). V(group_check) runs on each member after its verification and fails it when
    another member did not pass, so that the whole group reverts.
  - V(hold) is playbooks/checkpoint.yml's step, on the Hyper-V host. It takes the checkpoint of a change made by hand,
    named as the role's but ending in C(manual), one per change id; a second run for the same change id finds it.
  - V(batches) is playbooks/patch_window.yml's step. It plans serial batches that keep every application group whole.
  - No step fails the task for what happens to the change (but V(verify), V(group_check), and V(hold) when it cannot
    take the checkpoint); the role fails the guest at its end.
options:
  step:
    description: The step to run.
    type: str
    required: true
    choices: [prepare, checkpoint, plan, group_checkpoint, gate, verify, group_check, revert, finish, settle, summary,
              hold, batches]
  state:
    description: The run's state, as the step before returned it (RV(state)).
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
  planned:
    description: V(gate) - what V(plan) returned (RV(planned)).
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
    description: Whether V(verify) checks the change or the state after a revert.
    type: str
    choices: [change, after_revert]
    default: change
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
  vm:
    description: V(hold) - the VM's name on the Hyper-V host. The inventory name when not set.
    type: str
  change_id:
    description: V(hold) - the change id (required), e.g. V(CHG0042).
    type: str
  name_prefix:
    description: V(hold) - the first word of the checkpoint's name.
    type: str
    default: safe_change
  requested_by:
    description: V(hold) - who; goes into the checkpoint's name. The AWX user, else the controller's C($USER), when empty.
    type: str
    default: ""
  checkpoint_type:
    description:
      - V(hold) - the checkpoint type for this checkpoint; empty uses the VM's setting.
      - Hyper-V's spelling (V(Standard), V(Production), V(ProductionOnly), in any case) is accepted too.
    type: str
    default: ""
    choices: ["", standard, production, production_only]
  lock_minutes:
    description: V(hold) - a checkpoint of another change younger than this is that change's lock, and V(hold) refuses.
    type: int
    default: 120
  operation_timeout:
    description: V(hold) - seconds each Hyper-V operation may take.
    type: int
    default: 600
  hosts_to_batch:
    description: V(batches) - the guests, in inventory order.
    type: list
    elements: str
    default: []
  batch_size:
    description: V(batches) - guests per batch, a number (V(5)) or a percentage (V(25%)).
    type: str
    default: "1"
attributes:
  action:
    description: Runs on the Ansible controller as an action plugin.
    support: full
  async:
    description: The steps cannot run asynchronously.
    support: none
  check_mode:
    description: In check mode V(checkpoint) only reads the Hyper-V host and reports what a real run would do; the role
      skips the change.
    support: full
  diff_mode:
    description: The steps report no diff.
    support: none
  platform:
    description: V(checkpoint), V(settle) and V(finish) target a Windows Hyper-V host; V(prepare) and V(verify) a guest
      of any operating system.
    support: full
    platforms: windows, posix
seealso:
  - module: hyperv.checkpoint.hyperv_checkpoint
    description: The module the steps use for every change on the Hyper-V host.
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
state:
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
checkpoint:
  description: V(hold) - the checkpoint taken or found.
  returned: step hold
  type: dict
  sample: {"id": "5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c", "name": "safe_change CHG0042 by jane 2026-11-25T13:35:15Z manual",
           "vm_name": "web01", "reused": false, "state": "present"}
run_id:
  description: The run the verification belongs to.
  returned: step verify
  type: str
  sample: 6f1c2b0e8d9a4b5c9e7f1a2b3c4d5e6f
planned:
  description: V(plan) - the groups of the batch (members, orders, why a group is refused), the state of each guest and
    the members whose checkpoints the group step takes.
  returned: step plan
  type: dict
  sample: {"groups": {"shop": {"members": ["db01", "web01"], "problem": null}}, "create": ["db01", "web01"]}
states:
  description: V(gate) - the state each guest of the batch goes on with.
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
hosts:
  description: V(batches) - the guests in batch order.
  returned: step batches
  type: list
  elements: str
  sample: ["db01", "web01", "app01"]
batches:
  description: V(batches) - the size of each batch, for C(serial).
  returned: step batches
  type: list
  elements: int
  sample: [2, 1]
started_at:
  description: When the step started (seconds since the epoch, controller clock); the role's durations come from these.
  returned: always
  type: float
  sample: 1764077715.3
"""
