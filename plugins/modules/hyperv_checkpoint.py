#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation of the module. The module is implemented
# by the action plugin plugins/action/hyperv_checkpoint.py, which runs on the
# controller and talks to the Hyper-V host over the task's connection.

DOCUMENTATION = r"""
---
module: hyperv_checkpoint
short_description: Create, restore, rename and delete checkpoints of a Hyper-V virtual machine
version_added: 0.1.0
description:
  - Manages the checkpoints (snapshots) of one Hyper-V virtual machine, for example around a patch window.
  - O(state=present) makes sure a checkpoint named O(name) exists, and takes it when missing; with O(new_name), renames
    it.
  - O(state=absent) deletes one checkpoint (O(name) or O(checkpoint_id)), all of a name (O(all_with_name)) or a clean-up
    selection (O(name_prefix) or O(name_pattern), with O(older_than) and O(keep_newest)), then waits for Hyper-V's disk
    merge (O(wait)).
  - O(state=restored) applies a checkpoint, discarding the VM's current state, then sets the VM's power state
    (O(power_state)).
extends_documentation_fragment: [hyperv.checkpoint._hyperv_host, hyperv.checkpoint._hyperv_host.follow]
options:
  vm:
    description:
      - Name of the virtual machine on the Hyper-V host. Exactly one of O(vm) and O(vm_id) is required; mutually
        exclusive with O(vm_id).
    type: str
  vm_id:
    description:
      - Id (GUID) of the virtual machine, compared case-insensitively, for example
        V(3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f). Use it when VM names are not unique on the host. Mutually exclusive
        with O(vm).
    type: str
  name:
    description:
      - Name of the checkpoint; not empty or blank, at most 100 characters (Hyper-V's limit).
      - With O(state=present), the checkpoint to look for, created when missing; with O(new_name), the one to rename.
        With O(state=absent), the checkpoint to delete (nothing happens when there is none). With O(state=restored),
        the checkpoint to restore.
      - Mutually exclusive with O(checkpoint_id), O(name_prefix) and O(name_pattern).
    type: str
  checkpoint_id:
    description:
      - Id (GUID) of the checkpoint, compared case-insensitively, for example the RV(checkpoint.id) an earlier task
        registered. It picks one of several checkpoints of the same name.
      - With O(state=present) and no O(new_name), the task only checks that the checkpoint exists and returns it; it
        never creates one, and a missing id fails with RV(error_code=checkpoint_not_found).
      - Mutually exclusive with O(name), O(name_prefix) and O(name_pattern).
    type: str
  state:
    description:
      - What each state does is in the module's description. V(absent) reports no change when nothing matches.
      - V(restored) B(always reports changed), also in check mode, and restores again on every run, because Hyper-V
        cannot tell whether the VM has drifted since. Guard the task with C(when).
      - V(present) and V(restored) need O(name) or O(checkpoint_id); V(absent) needs O(name), O(checkpoint_id),
        O(name_prefix) or O(name_pattern).
    type: str
    default: present
    choices: [present, absent, restored]
  new_name:
    description:
      - Renames the checkpoint selected by O(name) or O(checkpoint_id) to this name (the rules of O(name) apply).
        Needs O(state=present).
      - Idempotent. A checkpoint that already has this name is not changed; when O(name) matches nothing and exactly
        one checkpoint has O(new_name), an earlier run renamed it and nothing changes. Changing only the case of a name
        is a rename.
      - When another checkpoint of the VM already has the name (case aside), the task fails with
        RV(error_code=name_in_use) and renames nothing.
    type: str
  checkpoint_type:
    description:
      - The kind of checkpoint to take, for this one checkpoint. The host's spelling (V(ProductionOnly),
        V(Production), V(Standard), in any case) is accepted too, so a value read from a result or an inventory
        variable can be given back.
      - V(standard) includes the memory state of a running VM, so a restore resumes it where it was. V(production) is
        application-consistent (VSS in Windows guests, a file-system freeze in Linux guests) without memory state;
        when the guest cannot make one, Hyper-V takes a standard checkpoint instead and the task warns and returns
        RV(fell_back=true). Other failures (busy, a timeout, too little space) never fall back; they fail with their
        own RV(error_code). V(production_only) fails with RV(error_code=production_checkpoint_failed) instead of
        falling back, and nothing is created.
      - Hyper-V has no type per checkpoint, only the VM's setting, which the host switches for this checkpoint when
        needed and puts back (see the notes). To change the VM's own setting, use
        M(hyperv.checkpoint.hyperv_checkpoint_type).
      - When not set, the VM's setting applies; Hyper-V's own fallback of a C(Production) VM is reported the same way.
        An existing checkpoint with the name is reused whatever its kind. A VM whose checkpoint type is C(Disabled) is
        refused with RV(error_code=checkpoints_disabled) even with this option. Needs a host with checkpoint types
        (Windows Server 2016 or later), else RV(error_code=unsupported_on_host).
    type: str
    choices: [standard, production, production_only]
  max_age:
    description:
      - With O(state=present), the maximum age of an existing checkpoint O(name) (or O(checkpoint_id)). An older one
        fails the task with RV(error_code=checkpoint_too_old) and is neither reused nor replaced (RV(error_details) has
        its C(checkpoint) and C(age_seconds)), so a stale checkpoint of an earlier patch window is never taken for
        today's.
      - A duration is a whole number of seconds (V(3600)) or a number with a unit V(s), V(m), V(h), V(d) or V(w) in
        any case (V(90m), V(48h), V(7d), V(2w)), greater than zero; combined values such as V(1d12h) are refused.
      - Ages are the controller's clock minus the creation time in UTC the host reports; keep both clocks in sync.
    type: str
  include_children:
    description:
      - With O(state=absent), also delete every descendant of each deleted checkpoint, whatever its name and age
        (Hyper-V's "Delete Checkpoint Subtree", C(Remove-VMSnapshot -IncludeAllChildSnapshots)).
      - Without it, the children of a deleted checkpoint move up to its parent, and Hyper-V merges the disks.
      - Cannot be combined with O(keep_newest), because in a chain newer checkpoints are children of older ones.
    type: bool
    default: false
  all_with_name:
    description:
      - With O(state=absent) and O(name), delete every user checkpoint of that name instead of failing with
        RV(error_code=ambiguous).
    type: bool
    default: false
  name_prefix:
    description:
      - Clean-up with O(state=absent). Selects the user checkpoints whose names start with this text, literally and
        case-sensitively (a selection to delete stays narrow). Not empty or blank, so that an empty variable never
        selects every checkpoint.
      - With O(name_pattern), a checkpoint is selected only when it matches both. Mutually exclusive with O(name) and
        O(checkpoint_id).
    type: str
  name_pattern:
    description:
      - Clean-up with O(state=absent). Selects the user checkpoints whose whole name matches this shell-style pattern,
        case-sensitively; V(*) matches any text, V(?) one character, V([seq]) one character in C(seq), V([!seq]) one
        not in it. Not empty or blank.
      - Mutually exclusive with O(name) and O(checkpoint_id).
    type: str
  older_than:
    description:
      - Clean-up with O(state=absent). Of the checkpoints selected by O(name_prefix) or O(name_pattern), delete only
        those strictly older than this duration (the format of O(max_age)). Needs O(name_prefix) or O(name_pattern),
        so that a clean-up never selects by age alone.
    type: str
  keep_newest:
    description:
      - Clean-up with O(state=absent). Of the checkpoints selected by O(name_prefix) or O(name_pattern), keep this many
        of the newest (by creation time) and delete the older ones; V(0) deletes all selected ones. Needs
        O(name_prefix) or O(name_pattern).
      - The newest are counted before O(older_than) applies; with both, a checkpoint is deleted only when it is not
        among the newest and is older than O(older_than).
    type: int
  power_state:
    description:
      - With O(state=restored), the VM's power state after the restore. The module saves a running VM first
        (C(Save-VM)), so the restore leaves it C(Saved) (a checkpoint with memory state) or C(Off) and the restored
        guest runs only when this option says so (Hyper-V's C(Restore-VMSnapshot) would start it by itself).
      - V(previous) brings back the state before the task; a C(Running) VM is started (resumed from the checkpoint's
        memory), an C(Off) VM turned off. Other states, such as C(Saved) or C(Paused), are not brought back.
      - V(running) starts the VM unless it already runs, and waits until Hyper-V reports it started.
      - V(off) leaves the VM off without the restored guest ever running; a restored memory state is discarded with
        C(Remove-VMSavedState), never with C(Stop-VM), which deletes the VM's current automatic checkpoint (here, the
        one just restored). Quote it in YAML, C("off"), else it is the boolean V(false).
      - V(as_checkpoint) leaves the VM as the restore left it, C(Saved) after a checkpoint with memory state, else
        C(Off).
    type: str
    default: previous
    choices: [previous, running, 'off', as_checkpoint]
  wait:
    description:
      - With O(state=absent), wait until Hyper-V has merged the deleted checkpoints' differencing disks (C(.avhdx))
        into their neighbours, which needs free space and can take from seconds to hours; progress shows at C(-v).
        Hyper-V shows a merge a moment after the delete, so the host first waits up to 10 seconds for the merge or a
        shorter disk chain to show (the task warns when neither did).
      - With V(false), the task returns right after the delete and the merge goes on in the background; a later task
        that changes the VM's checkpoints meets it as O(on_merge) says.
    type: bool
    default: true
  timeout:
    description:
      - Maximum number of seconds to wait for a disk merge, greater than zero. It limits the wait after a delete
        (O(wait=true), counted from the start of the delete) and the wait before a change (O(on_merge=wait))
        separately.
      - When it runs out, the task fails with RV(error_code=merge_timeout) and the merge goes on in the background.
        After a delete the checkpoints are gone already, and the result reports C(changed=true), RV(removed) and
        RV(actions). Before a change, nothing was changed.
    type: int
    default: 1800
  on_merge:
    description:
      - What to do when Hyper-V is still merging disks of the VM and the task is about to create, delete or rename a
        checkpoint. V(wait) waits up to O(timeout) seconds, reads the VM again and plans again
        (RV(merge_wait_before_seconds)). V(fail) fails with RV(error_code=merge_in_progress) and changes nothing.
      - In check mode the task never waits or fails for a merge; it warns. Restores do not wait, because they are
        the rollback path.
    type: str
    default: wait
    choices: [wait, fail]
  min_free_gb:
    description:
      - With O(state=present), refuse to create a checkpoint when a volume that holds the VM's disks or checkpoint
        files has less than this many gigabytes (1024^3 bytes) free; the task fails with
        RV(error_code=low_disk_space) and nothing is created. A differencing disk grows with every write of the guest,
        Hyper-V pauses the VM when the volume fills, and a later delete needs room for the merge; the default leaves
        room for a patch window.
      - The host checks again right before it takes the checkpoint, and a checkpoint that fails while a volume is below
        this is reported as RV(error_code=low_disk_space) too. V(0) switches the check off. A volume whose free space
        the host cannot tell (an SMB share) is not checked; the task warns.
    type: float
    default: 10.0
    version_added: 0.2.0
notes:
  - Checkpoint names match as Hyper-V compares them, case-insensitively, and literally (V(*), V(?) and V([) are
    ordinary characters); O(name_pattern) is the only option that takes a pattern. Names equal but for case are the
    same name. Hyper-V allows several checkpoints of one name; when O(name) matches more than one, the task fails with
    RV(error_code=ambiguous) and changes nothing, and C(matches) in RV(error_details) lists them. Pick one with
    O(checkpoint_id), or delete them all with O(all_with_name=true). A name to restore or rename that matches nothing
    fails with RV(error_code=checkpoint_not_found) and suggests the closest names.
  - Only user checkpoints are managed, the ones Hyper-V reports with snapshot type C(Standard) (production, standard
    and automatic checkpoints). C(Recovery) checkpoints of backup software and C(Replica) checkpoints are never
    matched, counted or deleted; addressing one with O(checkpoint_id), or deleting a subtree that holds one, fails
    with RV(error_code=not_a_user_checkpoint).
  - Options that only apply to some states (O(max_age), O(checkpoint_type) and O(min_free_gb) to V(present),
    O(include_children), O(all_with_name) and O(wait) to V(absent), O(power_state) to V(restored)) are ignored with a
    warning under the other states. Options that contradict the state fail with RV(error_code=invalid_option).
  - Each task reads the VM and all its checkpoints once, plans, and only then changes anything, so every refusal
    (ambiguous names, disabled checkpoints, the limit of 50, too little free space, a checkpoint older than
    O(max_age)) happens before the host is changed. A task with nothing to do costs one round trip to the host.
  - Hyper-V allows at most 50 checkpoints per VM, of every kind, backup and replication included. One more fails with
    RV(error_code=limit_reached) before anything is changed.
  - With O(checkpoint_type), the host switches the VM's type only when its setting cannot give the kind asked for,
    and puts it back, also when the create fails. A run stopped in between leaves it switched; the task's retry or the
    next create puts it back and warns (M(hyperv.checkpoint.hyperv_checkpoint_info) shows C(type_override)).
  - For a clustered VM, run the task on the node that owns it; another node fails with
    RV(error_code=owned_by_other_node). With O(vm_id) the owner is found through the cluster's "Virtual Machine"
    resource of that id; with O(vm) only through a cluster role named like the VM, so address clustered VMs by id
    where roles are named otherwise (SCVMM, renamed roles).
  - Checkpoints are not backups. They depend on the VM's disks and live next to them; a chain of checkpoints slows
    disk I/O and grows, so delete checkpoints once the change they protect is done.
  - Hyper-V takes a checkpoint under a default name, then renames it. A create cut off in between is completed by the
    host or the task's retry, with a warning and no second checkpoint (RV(taken_type) and RV(fell_back) are V(null)
    then).
  - What happens when a host, a connection or the input goes wrong - docs/reliability.md; how the host carries out
    each operation (the type switch's marker file, the merge's grace period) - docs/host-protocol.md.
attributes:
  check_mode:
    description: Reads the VM and plans, but changes nothing. C(changed) tells whether the task would change the VM,
      and RV(actions) lists the planned operations with C(done=false); a checkpoint that would be created has
      RV(checkpoint.id=null). A restore reports changed in check mode too.
    support: full
  diff_mode:
    description: When the task changes something, the diff shows the VM's checkpoint tree before and after as text,
      one line per checkpoint (C(name [id] creation_time)) indented under its parent, C(<- Now) at the checkpoint the
      VM's current state derives from. The "after" tree is predicted from the operations, not read again.
    support: full
seealso:
  - module: hyperv.checkpoint.hyperv_checkpoint_info
    description: List the checkpoints of one, several or all VMs of a host, with ages, sizes and the checkpoint tree.
  - module: hyperv.checkpoint.hyperv_checkpoint_type
    description: Set a VM's checkpoint type (standard, production, production only, disabled) and related settings.
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
"""

EXAMPLES = r"""
# The play targets the guests; each task runs against the guest's Hyper-V host
# (the hyperv_host variable) and names the VM after the guest.

- name: Checkpoint before patching (reused when the play runs again the same night)
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    max_age: 12h
  delegate_to: "{{ hyperv_host }}"
  register: pre_patch

- name: Patch with a way back
  block:
    - name: Install the security updates
      ansible.windows.win_updates:
        category_names:
          - SecurityUpdates
        reboot: true

    - name: Check that the application answers
      ansible.builtin.uri:
        url: "https://{{ inventory_hostname }}/health"
      delegate_to: localhost

  rescue:
    - name: Restore the checkpoint and bring the VM back to the power state it had
      hyperv.checkpoint.hyperv_checkpoint:
        vm: "{{ inventory_hostname }}"
        checkpoint_id: "{{ pre_patch.checkpoint.id }}"
        state: restored
        power_state: previous
      delegate_to: "{{ hyperv_host }}"

    - name: Report the failed change
      ansible.builtin.fail:
        msg: Patching failed on {{ inventory_hostname }}; the VM was restored

- name: Delete the checkpoint once the change is verified, and wait for the disk merge
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    state: absent
    timeout: 3600
  delegate_to: "{{ hyperv_host }}"
  register: deleted

- name: Clean up patch checkpoints older than 7 days, but always keep the 2 newest
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    state: absent
    name_prefix: CHG
    older_than: 7d
    keep_newest: 2
  delegate_to: "{{ hyperv_host }}"

- name: Take an application-consistent checkpoint of a database server, or fail without one
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before SQL CU
    checkpoint_type: production_only
    operation_timeout: 1200
  delegate_to: "{{ hyperv_host }}"

- name: Take a production checkpoint, or a standard one when the guest cannot quiesce
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    checkpoint_type: production
  delegate_to: "{{ hyperv_host }}"
  register: cp

- name: Note the fallback (the task also warns)
  ansible.builtin.debug:
    msg: "{{ cp.checkpoint.name }} is a {{ cp.taken_type }} checkpoint (fell back: {{ cp.fell_back }})"
  when: cp is changed

- name: Restore and leave the VM as the restore left it (Off after a production checkpoint)
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    state: restored
    power_state: as_checkpoint
  delegate_to: "{{ hyperv_host }}"

- name: Delete a checkpoint and its children without waiting; refuse while the VM still merges
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0041 before patching
    state: absent
    include_children: true
    wait: false
    on_merge: fail
  delegate_to: "{{ hyperv_host }}"

- name: Keep the pre-patch checkpoint under a permanent name (by the id registered earlier)
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    checkpoint_id: "{{ pre_patch.checkpoint.id }}"
    new_name: Baseline 2026-11 (CHG0042)
  delegate_to: "{{ hyperv_host }}"

- name: Preview a clean-up by pattern (the only option that takes wildcards) in check mode
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    state: absent
    name_pattern: "nightly-20??-*"
    older_than: 48h
  delegate_to: "{{ hyperv_host }}"
  check_mode: true
  register: preview

- name: List the checkpoints the clean-up would delete
  ansible.builtin.debug:
    msg: "{{ preview.actions | map(attribute='names') | flatten }}"

# Hyper-V allows duplicate checkpoint names: a task that finds several fails with
# error_code=ambiguous and lists them in error_details.matches.
- name: Delete every checkpoint named "before patching"
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: before patching
    state: absent
    all_with_name: true
  delegate_to: "{{ hyperv_host }}"

- name: Address the VM by id when several VMs on the host share its name
  hyperv.checkpoint.hyperv_checkpoint:
    vm_id: 3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f
    name: CHG0042 before patching
  delegate_to: "{{ hyperv_host }}"

- name: Checkpoint, and stop with the reason when it is refused
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
  delegate_to: "{{ hyperv_host }}"
  register: result
  failed_when: false

- name: Stop when the checkpoint could not be made
  ansible.builtin.fail:
    msg: "No checkpoint ({{ result.error_code }}): {{ result.msg }}"
  when: result.error_code is defined
"""

RETURN = r"""
checkpoint:
  description:
    - The checkpoint the task is about. This is the one created, found, renamed or restored, or, with O(state=absent)
      and O(name) or O(checkpoint_id), the (first) one deleted.
    - V(null) when O(state=absent) found nothing to delete, and for a clean-up with O(name_prefix) or O(name_pattern).
      See RV(removed) and RV(actions) then.
    - In check mode, a checkpoint that would be created has C(id=null) and C(creation_time=null).
  returned: success
  type: dict
  contains:
    id:
      description: Id (GUID, lower case) of the checkpoint. V(null) for a checkpoint that would be created in check
        mode.
      type: str
      sample: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
    name:
      description: Name of the checkpoint, after a rename its new name.
      type: str
      sample: CHG0042 before patching
    vm_name:
      description: Name of the VM.
      type: str
      sample: app01
    vm_id:
      description: Id of the VM.
      type: str
      sample: 3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f
    snapshot_type:
      description: Hyper-V's snapshot type, always C(Standard) for the checkpoints this module manages.
      type: str
      sample: Standard
    kind:
      description:
        - What the collection knows of the checkpoint's kind. C(production) or C(standard) for a checkpoint the task
          took (RV(taken_type)); else C(standard) when it holds the VM's memory state, and C(unknown) otherwise
          (Hyper-V does not record whether a checkpoint without memory state is a production one or a standard one of
          a VM that was off).
      type: str
      sample: production
      version_added: 0.2.0
    creation_time:
      description: When the checkpoint was taken, in UTC (ISO 8601). V(null) for a checkpoint that would be created in
        check mode.
      type: str
      sample: "2026-11-25T13:35:15.1234567Z"
    parent_id:
      description: Id of the parent checkpoint; V(null) for a root checkpoint.
      type: str
      sample: 9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4
    is_current:
      description:
        - Whether the VM's current state derives from this checkpoint (it is the "Now" position), after the task.
        - Always V(false) with O(state=absent), and for a checkpoint that would be created in check mode.
      type: bool
      sample: true
vm:
  description:
    - A summary of the VM, with the keys of the VM entries of M(hyperv.checkpoint.hyperv_checkpoint_info) (its
      C(vms[]), documented there once) C(id), C(name), C(state), C(checkpoint_type), C(checkpoint_type_option),
      C(current_checkpoint_id), C(merging) and C(volumes).
    - After a create, delete or restore (not in check mode), the values the host reported after that operation; after
      a delete with O(wait=true), after the merge, so C(merging) is V(false). Otherwise, for example in check mode,
      after a rename or when nothing changed, the values read before the task, except C(current_checkpoint_id),
      which is the VM's position after the task (predicted in check mode).
  returned: success
  type: dict
  sample:
    id: 3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f
    name: app01
    state: Running
    checkpoint_type: Production
    checkpoint_type_option: production
    current_checkpoint_id: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
    merging: false
    volumes:
      - path: 'D:\'
        free_bytes: 214748364800
        size_bytes: 1099511627776
actions:
  description:
    - The operations the task carried out, or in check mode planned, in order. Empty when nothing changed.
    - Each entry has C(action) and C(done) and the keys of its kind of action, as listed below.
  returned: success
  type: list
  elements: dict
  contains:
    action:
      description: The kind of operation, either C(create), C(remove), C(restore) or C(rename).
      type: str
      sample: create
    done:
      description: V(true) when the operation was carried out, V(false) in check mode.
      type: bool
      sample: true
    name:
      description: Name of the checkpoint (C(create), C(restore), C(rename); for C(rename) the old name).
      type: str
      sample: CHG0042 before patching
    checkpoint_type:
      description: C(create) only. The type requested with O(checkpoint_type), as Hyper-V spells it (C(Standard),
        C(Production), C(ProductionOnly)), or V(null) when the VM's own setting applied.
      type: str
      sample: ProductionOnly
    checkpoint_type_option:
      description: C(create) only. The same type as the options spell it (C(standard), C(production),
        C(production_only)), or V(null).
      type: str
      sample: production_only
      version_added: 0.2.0
    checkpoint_id:
      description: C(create) (when done), C(restore), C(rename). Id of the created, restored or renamed checkpoint.
      type: str
      sample: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
    checkpoint_ids:
      description: C(remove) only. Ids of the selected checkpoints, oldest first for a clean-up.
      type: list
      elements: str
      sample: [9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4]
    names:
      description: C(remove) only. Names of the selected checkpoints, in the order of C(checkpoint_ids).
      type: list
      elements: str
      sample: [CHG0041 before patching]
    include_children:
      description: C(remove) only. The value of O(include_children).
      type: bool
      sample: false
    removes:
      description: C(remove) only. Ids of all checkpoints the delete is expected to remove, the selected ones and,
        with O(include_children), their descendants (sorted).
      type: list
      elements: str
      sample: [9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4]
    removed:
      description: C(remove) when done. Ids the host reports as deleted.
      type: list
      elements: str
      sample: [9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4]
    merge:
      description:
        - C(remove) when done. What the host saw of the disk merge right after the delete.
        - C(running) when the VM showed the merge, C(done) when the chain under the running disk was already shorter
          or the delete needed no merge, C(unseen) when neither showed within the grace period (with O(wait=true), 10
          seconds; the task then warns), C(none) when nothing was deleted.
      type: str
      sample: running
      version_added: 0.2.0
    power_state:
      description: C(restore) only. The value of O(power_state).
      type: str
      sample: previous
    state_after_restore:
      description: C(restore) when done. The VM's state right after the restore, before O(power_state) was applied.
      type: str
      sample: "Off"
    new_name:
      description: C(rename) only. The new name.
      type: str
      sample: CHG0042 verified
removed:
  description:
    - The checkpoints the task selected and deleted, as the host reports them. Descendants deleted with
      O(include_children) are listed in RV(actions[].removes).
    - Each entry has the checkpoint's C(id) and its C(name) as read before the delete.
    - When the connection was lost during the delete, the task reads the host again and lists the selected
      checkpoints that are gone, also those the lost attempt deleted.
  returned: when checkpoints were deleted (not in check mode)
  type: list
  elements: dict
  contains:
    id:
      description: Id of the deleted checkpoint.
      type: str
      sample: 9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4
    name:
      description: Name of the deleted checkpoint.
      type: str
      sample: CHG0041 before patching
taken_type:
  description:
    - The kind of checkpoint Hyper-V took, either C(production) or C(standard), read from the checkpoint; one with
      the VM's memory state is a standard one.
    - V(null) when the connection dropped and the task found the created checkpoint afterwards, in which case the type
      is unknown.
  returned: when a checkpoint was created (not in check mode)
  type: str
  sample: production
fell_back:
  description:
    - V(true) when a production checkpoint was asked for (O(checkpoint_type=production), or the VM's setting
      C(Production)) but failed, usually because the guest could not quiesce, so a standard checkpoint with memory
      state was taken instead. The task also warns then.
    - V(null) when the connection dropped and the task found the created checkpoint afterwards.
  returned: when a checkpoint was created (not in check mode)
  type: bool
  sample: false
merge_seconds:
  description: Seconds from the start of the delete until Hyper-V finished merging the disks.
  returned: when checkpoints were deleted with O(wait=true) (not in check mode)
  type: float
  sample: 42.5
merge_wait_before_seconds:
  description: Seconds the task waited for a merge that was already running before it changed anything
    (O(on_merge=wait)).
  returned: when a merge was running and the task had something to change
  type: float
  sample: 12.3
previous_state:
  description:
    - The VM's state before the restore, which O(power_state=previous) goes back to.
    - When the connection was lost and the restore was run again, the state the task read before it acted.
  returned: when a checkpoint was restored (not in check mode)
  type: str
  sample: Running
hyperv_node:
  description:
    - The inventory name of the Hyper-V host the operations ran on, the host the task is delegated to or the
      cluster node the task followed the VM to (O(follow_vm)).
  returned: when the task reached a Hyper-V host
  type: str
  sample: hv02
  version_added: 0.2.0
error_code:
  description:
    - A stable code for the failure. From the task's own checks - C(invalid_option) (also for option errors of the
      argument spec), C(ambiguous), C(checkpoint_not_found), C(not_a_user_checkpoint), C(checkpoint_too_old),
      C(name_in_use), C(checkpoints_disabled), C(limit_reached), C(low_disk_space), C(unsupported_on_host),
      C(merge_in_progress), C(merge_timeout) and C(unsupported_connection).
    - From the host or the connection - C(vm_not_found), C(ambiguous) (VM name), C(owned_by_other_node) (the VM runs
      on a cluster node the task did not follow it to), C(migrating) (a live migration that did not end in time),
      C(cluster_unreadable) (the user may not read the failover cluster),
      C(production_checkpoint_failed), C(low_disk_space), C(busy) (retried first), C(hyperv_timeout), C(access_denied),
      C(hyperv_module_missing), C(constrained_language), C(host_unreachable), C(timeout), C(connection_lost),
      C(session_rejected), C(protocol_error), C(invalid_request) and C(host_error) (any other error, with the host's
      message).
      docs/host-protocol.md maps the host's error ids to them.
  returned: failure
  type: str
  sample: ambiguous
error_details:
  description:
    - Details of the failure, depending on RV(error_code), an empty dict when there are none. For example C(matches)
      (C(id), C(name), C(creation_time)) for C(ambiguous), C(checkpoint) and C(age_seconds) for
      C(checkpoint_too_old), C(elapsed) for C(merge_timeout), C(timeout) for C(timeout), C(suggestions) (the host's
      closest VM names) for C(vm_not_found), and C(exception_type), C(fully_qualified_error_id) and C(category) for
      C(host_error).
  returned: failure
  type: dict
  sample:
    matches:
      - id: 9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4
        name: before patching
        creation_time: "2026-11-18T22:01:07.5550000Z"
"""
