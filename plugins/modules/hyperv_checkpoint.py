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
  - With O(state=present) it makes sure that a checkpoint with the name O(name) exists, and creates it when the VM has
    none. With O(new_name) it renames a checkpoint instead.
  - With O(state=restored) it applies (restores) a checkpoint to the VM and then sets the VM's power state as
    O(power_state) says.
  - With O(state=absent) it deletes one checkpoint (O(name) or O(checkpoint_id)), every checkpoint with a name
    (O(all_with_name)), or a clean-up selection made with O(name_prefix) or O(name_pattern), O(older_than) and
    O(keep_newest). It then waits for Hyper-V's disk merge (O(wait)).
  - The module runs on the Ansible controller, as an action plugin. It sends small Windows PowerShell scripts to the
    Hyper-V host over the task's connection. Point the task at the Hyper-V host, usually with C(delegate_to), and
    name the VM with O(vm) or O(vm_id).
  - Each task reads the VM and all its checkpoints once, plans what to do, and only then changes anything. Every
    refusal happens before the host is changed. This covers ambiguous names, disabled checkpoints, the limit of 50
    checkpoints, too little free space (O(min_free_gb)), a checkpoint older than O(max_age), and invalid option
    combinations. A task that has nothing to do needs one round trip to the host.
  - Checkpoint names are literal, never wildcards. A name matches a checkpoint only when the two are exactly equal,
    case-sensitive, and characters such as V(*), V(?) and V([) have no special meaning. O(name_pattern) is the only
    option that takes a pattern.
  - Names travel to the host as data, never as code; quotes, V($(\)), backticks and semicolons in a name are just
    characters. The options that name things (O(vm), O(vm_id), O(name), O(checkpoint_id), O(new_name),
    O(name_prefix), O(name_pattern)) must be strings (quote numbers and words like V(yes) in YAML) and must not contain
    control characters such as NUL, tab or newline. Such input fails before the host is contacted, with a message that
    names the option.
  - Hyper-V allows several checkpoints of a VM to have the same name. When a name matches more than one checkpoint,
    the task fails with RV(error_code=ambiguous) and changes nothing. The C(matches) list in RV(error_details) names
    the candidates. Pick one with O(checkpoint_id), or, with O(state=absent), delete them all with
    O(all_with_name=true).
  - The module only manages user checkpoints, the ones Hyper-V reports with snapshot type C(Standard). This includes
    production checkpoints, standard checkpoints and automatic checkpoints. C(Recovery) checkpoints made by backup
    software and C(Replica) checkpoints made by Hyper-V Replica are never matched by name, prefix or pattern, never
    counted and never deleted. Addressing one with O(checkpoint_id), or deleting a subtree that holds one
    (O(include_children=true)), fails with RV(error_code=not_a_user_checkpoint).
options:
  vm:
    description:
      - Name of the virtual machine on the Hyper-V host.
      - The name is compared literally and case-sensitively with the names of the host's VMs. It is not a wildcard
        pattern.
      - When several VMs on the host have this name, the task fails with RV(error_code=ambiguous); use O(vm_id)
        instead. An unknown name fails with RV(error_code=vm_not_found).
      - Exactly one of O(vm) and O(vm_id) is required. Mutually exclusive with O(vm_id).
    type: str
  vm_id:
    description:
      - Id (GUID) of the virtual machine, for example V(3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f). The comparison is not
        case-sensitive.
      - Use it when VM names are not unique on the host.
      - Exactly one of O(vm) and O(vm_id) is required. Mutually exclusive with O(vm).
    type: str
  name:
    description:
      - Name of the checkpoint. It is compared literally and case-sensitively. See the description above for
        duplicate names.
      - It must not be empty or blank and can have at most 100 characters, Hyper-V's limit. A longer or blank name
        fails with RV(error_code=invalid_option) before the host is contacted.
      - With O(state=present), the checkpoint to look for. It is created when the VM has no user checkpoint with this
        name. With O(new_name), it is the checkpoint to rename.
      - With O(state=absent), the checkpoint to delete. The task does nothing when there is none. With
        O(all_with_name=true), every checkpoint with this name is deleted.
      - With O(state=restored), the checkpoint to restore. One of O(name) and O(checkpoint_id) is required.
      - Mutually exclusive with O(checkpoint_id), O(name_prefix) and O(name_pattern).
    type: str
  checkpoint_id:
    description:
      - Id (GUID) of the checkpoint. The comparison is not case-sensitive. Use it to pick one of several checkpoints
        with the same name, for example the RV(checkpoint.id) that an earlier task registered.
      - With O(state=present) and no O(new_name), the task only checks that the checkpoint exists and returns it. It
        never creates a checkpoint, and fails with RV(error_code=checkpoint_not_found) when the id does not exist.
        With O(new_name), it renames the checkpoint.
      - With O(state=absent), the task deletes the checkpoint, and does nothing when it no longer exists.
      - With O(state=restored), the task restores the checkpoint.
      - An id of a C(Recovery) or C(Replica) checkpoint fails with RV(error_code=not_a_user_checkpoint).
      - Mutually exclusive with O(name), O(name_prefix) and O(name_pattern).
    type: str
  state:
    description:
      - V(present) makes sure the checkpoint exists. If it does, the task reports no change; if it does not, the
        checkpoint is created. With O(new_name), the checkpoint is renamed instead.
      - V(absent) deletes checkpoints. The task reports no change when nothing matches.
      - V(restored) applies the checkpoint to the VM, discarding the VM's current state, and then handles the power
        state as O(power_state) says.
      - V(restored) B(always reports changed), also in check mode, and restores again on every run. Hyper-V cannot
        tell whether the VM has drifted since its last restore, so "already restored" cannot be detected. Guard the
        task with C(when), for example so that it runs only when a change failed.
      - V(present) and V(restored) need O(name) or O(checkpoint_id). V(absent) needs O(name), O(checkpoint_id),
        O(name_prefix) or O(name_pattern).
    type: str
    default: present
    choices: [present, absent, restored]
  new_name:
    description:
      - Renames the checkpoint selected by O(name) or O(checkpoint_id) to this name. Needs O(state=present); any
        other state fails with RV(error_code=invalid_option).
      - The same rules as for O(name) apply. The name is literal and can have at most 100 characters.
      - The rename is idempotent. If the selected checkpoint already has this name, nothing changes. When it is
        selected by O(name), no checkpoint has that name, and exactly one user checkpoint has O(new_name), the task
        assumes that an earlier run renamed it and reports no change. Otherwise a missing checkpoint fails with
        RV(error_code=checkpoint_not_found).
      - When another user checkpoint of the VM already has the name O(new_name), the task fails with
        RV(error_code=name_in_use) and renames nothing, so a rename never creates duplicate names.
      - O(max_age) and O(checkpoint_type) are ignored when renaming.
    type: str
  checkpoint_type:
    description:
      - The type of the checkpoint to create, for this one checkpoint only. Hyper-V has no type per checkpoint, only the
        VM's setting, so the host switches that setting for the checkpoint when it cannot give the kind asked for, and
        puts it back afterwards, also when creating the checkpoint fails. It does not switch when the VM's own setting
        gives the kind asked for (V(production) on a C(Production) VM, for example), which keeps short the moment in
        which backup software taking a checkpoint would get the switched type. To change the VM's setting itself, use
        M(hyperv.checkpoint.hyperv_checkpoint_type).
      - The host notes the type to put back in a file under C(%ProgramData%\hyperv.checkpoint) before it switches. A
        run that is stopped in that moment (an O(operation_timeout), a lost connection) leaves the type switched and
        the note behind; the task's retry, or the next checkpoint any run takes of the VM, puts the type back and warns.
        M(hyperv.checkpoint.hyperv_checkpoint_info) shows it in each VM's C(type_override).
      - V(standard) takes a standard checkpoint. It includes the memory state of a running VM, so a restore resumes
        the VM where it was.
      - V(production) takes a production checkpoint, which is application-consistent and has no memory state. Windows
        guests use VSS; Linux guests freeze their file systems. When the guest cannot make one, a standard checkpoint
        is taken instead. The task then succeeds with a warning and RV(fell_back=true). Other failures, such as a
        busy VM, a VM in a state that cannot change, a timeout or too little disk space, never fall back; they fail
        with their own RV(error_code) (C(busy), C(hyperv_timeout), C(low_disk_space), ...), because a standard
        checkpoint carries memory state, wrong for a domain controller or a database.
      - V(production_only) takes a production checkpoint, or fails with RV(error_code=production_checkpoint_failed)
        when the guest cannot make one. Nothing is created then.
      - Which kind was taken is read from the checkpoint itself. A checkpoint with the VM's memory state is a
        standard one.
      - When not set, the VM's own setting applies, without any switch. With the VM setting C(Production), Hyper-V's
        own fallback to a standard checkpoint is detected and reported the same way.
      - Only used when a checkpoint is created. An existing checkpoint with the name is reused whatever its type.
        Hyper-V does not record whether a checkpoint is a production or a standard one.
      - This option does not override a VM whose checkpoints are disabled. A VM with checkpoint type C(Disabled) is
        refused with RV(error_code=checkpoints_disabled) even when this option is set.
      - Needs a host that has checkpoint types (Windows Server 2016 or later). Otherwise the task fails with
        RV(error_code=unsupported_on_host).
    type: str
    choices: [standard, production, production_only]
  max_age:
    description:
      - With O(state=present), the maximum age of an existing checkpoint named O(name) (or O(checkpoint_id)).
      - When the existing checkpoint is older, the task fails with RV(error_code=checkpoint_too_old). It neither reuses
        nor replaces the checkpoint. RV(error_details) holds the C(checkpoint) (id, name, creation_time) and its
        C(age_seconds). This stops a stale checkpoint left by an earlier patch window from being taken for today's.
        Delete it first, or choose another name.
      - A duration is a whole number with an optional unit, either V(s), V(m), V(h), V(d) or V(w). The unit is not
        case-sensitive; V(90m), V(48h), V(7d) and V(2w) are examples. A number alone is seconds, for example
        V(3600). It must be greater than zero. Combined values such as V(1d12h) are not accepted. An invalid duration
        fails with RV(error_code=invalid_option) before the host is contacted.
      - The age is the controller's current time minus the checkpoint's creation time in UTC, as the host reports
        it.
      - Has no effect with O(state=absent) or O(state=restored) (the task warns), nor together with O(new_name).
    type: str
  include_children:
    description:
      - With O(state=absent), also delete every descendant of each deleted checkpoint. This is Hyper-V's "Delete
        Checkpoint Subtree" (C(Remove-VMSnapshot -IncludeAllChildSnapshots)).
      - The descendants are deleted whatever their names and ages. A clean-up with this option can delete
        checkpoints that do not match O(name_prefix), O(name_pattern) or O(older_than).
      - When a subtree to delete holds a C(Recovery) or C(Replica) checkpoint, the task fails with
        RV(error_code=not_a_user_checkpoint) and deletes nothing.
      - Cannot be combined with O(keep_newest), because in a chain of checkpoints the newer ones are children of the
        older ones. The task fails with RV(error_code=invalid_option).
      - Without it, only the selected checkpoints are deleted. Their children then hang under the deleted
        checkpoint's parent, and Hyper-V merges the differencing disks.
      - Has no effect with the other states; given there, the task warns.
    type: bool
    default: false
  all_with_name:
    description:
      - With O(state=absent) and O(name), delete every user checkpoint with that name.
      - Without it, a name that matches several checkpoints fails with RV(error_code=ambiguous) and deletes nothing.
      - Has no effect otherwise, for example with O(checkpoint_id); with O(state=present) or O(state=restored) the
        task warns.
    type: bool
    default: false
  name_prefix:
    description:
      - Clean-up with O(state=absent). Selects the user checkpoints whose names start with this text. The prefix is
        literal and case-sensitive.
      - It must not be empty or blank, so that an empty variable never selects every checkpoint. Otherwise the task
        fails with RV(error_code=invalid_option).
      - Together with O(name_pattern), a checkpoint is selected only when it matches both.
      - Needs O(state=absent); any other state fails with RV(error_code=invalid_option).
      - Mutually exclusive with O(name) and O(checkpoint_id).
    type: str
  name_pattern:
    description:
      - Clean-up with O(state=absent). Selects the user checkpoints whose names match this shell-style pattern.
      - The pattern must match the whole name, and the match is case-sensitive. V(*) matches any text, V(?) any one
        character, V([seq]) one character in C(seq), and V([!seq]) one character not in C(seq).
      - This is the only option that treats its value as a pattern. O(name), O(name_prefix) and O(new_name) are
        literal.
      - It must not be empty or blank. Otherwise the task fails with RV(error_code=invalid_option).
      - Together with O(name_prefix), a checkpoint is selected only when it matches both.
      - Needs O(state=absent); any other state fails with RV(error_code=invalid_option).
      - Mutually exclusive with O(name) and O(checkpoint_id).
    type: str
  older_than:
    description:
      - Clean-up with O(state=absent). Of the checkpoints selected by O(name_prefix) or O(name_pattern), delete only
        those older than this duration, strictly.
      - The duration format is that of O(max_age), for example V(7d), V(48h) or V(3600).
      - The age is the controller's current time minus the checkpoint's creation time in UTC, as the host reports
        it.
      - Needs O(state=absent) and O(name_prefix) or O(name_pattern), so that a clean-up never selects checkpoints by
        age alone. Otherwise the task fails with RV(error_code=invalid_option).
    type: str
  keep_newest:
    description:
      - Clean-up with O(state=absent). Of the checkpoints selected by O(name_prefix) or O(name_pattern), keep this
        many of the newest (by creation time) and delete the older ones.
      - The newest checkpoints are counted among all selected checkpoints before O(older_than) applies. With both
        options, a checkpoint is deleted only when it is not among the O(keep_newest) newest and is older than
        O(older_than).
      - V(0) deletes all selected checkpoints. A negative number fails with RV(error_code=invalid_option).
      - Cannot be combined with O(include_children=true); the task fails with RV(error_code=invalid_option).
      - Needs O(state=absent) and O(name_prefix) or O(name_pattern). Otherwise the task fails with
        RV(error_code=invalid_option).
    type: int
  power_state:
    description:
      - With O(state=restored), what happens to the VM's power state after the restore.
      - Hyper-V's C(Restore-VMSnapshot) would save a running VM itself and start it again after the restore, so the
        restored guest would run at once. The module saves the VM first instead (C(Save-VM)); the restore then leaves
        it C(Saved) (a checkpoint with memory state) or C(Off), and the guest runs only when this option says so.
      - V(previous) restores the state the VM had before the task. If the VM was C(Running) before the restore, it is
        started, or resumed from the checkpoint's saved memory state. If it was C(Off), it is turned off. Other states
        before the restore, such as C(Saved) or C(Paused), are not brought back.
      - V(running) starts the VM unless it already runs. The task waits until Hyper-V reports it started.
      - V(off) leaves the VM off, and the restored guest never runs. A saved memory state that a standard checkpoint
        restored is discarded (C(Remove-VMSavedState)). The module never uses C(Stop-VM) here, because turning a VM off
        with it deletes the VM's current checkpoint when that is an automatic checkpoint, which would be the one just
        restored. Quote the value in YAML, as in C("off"). Unquoted, YAML reads C(off) as the boolean V(false), which
        is not a valid choice.
      - V(as_checkpoint) leaves the VM as the restore left it, C(Saved) after a checkpoint with memory state (a
        standard checkpoint of a running VM), else C(Off), as after a production checkpoint.
      - Has no effect with the other states; given there, the task warns.
    type: str
    default: previous
    choices: [previous, running, 'off', as_checkpoint]
  wait:
    description:
      - With O(state=absent), wait after the delete until Hyper-V has merged the deleted checkpoints' differencing
        disks, which can take from seconds to hours. The module polls the VM; progress shows at C(-v).
      - With V(false), the task returns right after the delete and the merge goes on in the background. A later task
        that creates, deletes or renames a checkpoint of the VM then waits for the merge, or fails, as O(on_merge)
        says.
      - Does not affect the wait before a change, which O(on_merge) controls.
    type: bool
    default: true
  timeout:
    description:
      - Maximum number of seconds to wait for a disk merge. It must be greater than zero.
      - It limits the wait after a delete (O(wait=true)), counted from the start of the delete. It also limits the wait
        for a merge that was already running before a change (O(on_merge=wait)). The two waits are limited
        separately, so one task can wait up to twice this long.
      - When the time runs out, the task fails with RV(error_code=merge_timeout) and the merge goes on in the
        background. After a delete, the checkpoints are already gone, and the result still reports C(changed=true),
        RV(removed) and RV(actions). Before a change, nothing has been changed.
    type: int
    default: 1800
  on_merge:
    description:
      - What to do when Hyper-V is still merging disks of the VM from an earlier delete, and the task is about to
        create, delete or rename a checkpoint.
      - V(wait) waits for the merge to end, up to O(timeout) seconds. The task then reads the VM again and plans again
        on the fresh state. RV(merge_wait_before_seconds) reports how long it waited.
      - V(fail) fails the task with RV(error_code=merge_in_progress) and changes nothing.
      - Only matters when the task has something to change. In check mode the task never waits or fails for a merge;
        it warns that the real run would wait (or fail) first. Restores (O(state=restored)) do not wait for a merge,
        because they are the rollback path.
    type: str
    default: wait
    choices: [wait, fail]
  min_free_gb:
    description:
      - With O(state=present), refuse to create a checkpoint when a volume that holds the VM's virtual disks or its
        checkpoint files has less than this many gigabytes (1024^3 bytes) free. The task then fails with
        RV(error_code=low_disk_space) and nothing is created.
      - A checkpoint's differencing disk grows with every write the guest makes, and Hyper-V pauses the VM when the
        volume fills; deleting the checkpoint later needs room for the merge as well. The default leaves room for a
        patch window's writes.
      - The host checks again right before it takes the checkpoint, and a failure of the checkpoint while a volume is
        below this is reported as RV(error_code=low_disk_space) too.
      - V(0) switches the check off. A volume whose free space the host cannot tell, such as an SMB share, is not
        checked; the task warns.
      - Has no effect with the other states; given there, the task warns.
    type: float
    default: 10.0
    version_added: 0.2.0
  operation_timeout:
    description:
      - Maximum number of seconds for each single operation on the host, meaning one PowerShell run over the
        connection, such as reading the VM, creating, restoring or deleting. It must be greater than zero.
      - When it runs out, the task fails with RV(error_code=timeout). The operation may still be running on the host,
        so check the VM before you run the task again.
      - Raise it for slow operations, for example a checkpoint of a VM with a lot of memory.
    type: int
    default: 600
notes:
  - The module is an action plugin that runs on the Ansible controller. It sends Windows PowerShell scripts to the
    Hyper-V host over the task's connection (C(winrm), C(psrp), or C(ssh) with the C(powershell) shell). Nothing is
    installed on the host and no Python is needed there.
  - Run the task against the Hyper-V host, not the guest. Usually the play targets the guests and the task uses
    C(delegate_to) with the Hyper-V host, as in the examples. O(vm) is the VM's name in Hyper-V, which may differ from
    the guest's inventory name.
  - The Hyper-V host needs Windows Server 2016 or later, the Hyper-V role with the Hyper-V PowerShell module
    (C(Install-WindowsFeature Hyper-V-PowerShell)), a WinRM listener (or OpenSSH) and Windows PowerShell 5.1.
  - The connecting user must be a member of the local group C(Hyper-V Administrators) on the host, and of
    C(Remote Management Users) to use WinRM without being an administrator. Otherwise the host answers "You do not
    have the required permission to complete this task".
  - C(become) is not applied to the scripts this module runs, so the connection user itself needs these rights.
  - For a clustered VM, run the task on the cluster node that currently owns the VM. On another node, the task fails
    with RV(error_code=owned_by_other_node). With O(vm_id) the owner is found through the cluster's "Virtual Machine"
    resource of that id; with O(vm) only through a cluster role named like the VM, so address clustered VMs by id
    where roles are named otherwise (SCVMM, renamed roles).
  - Checkpoints are not backups. They depend on the VM's virtual disks and live next to them, so keep a real backup.
    A chain of checkpoints also slows disk I/O and grows on disk, so delete checkpoints when the change they protect
    is done.
  - Hyper-V allows at most 50 checkpoints per VM, of every kind; checkpoints of backup and replication software count
    too. Creating one more fails with RV(error_code=limit_reached) before anything is changed.
  - Hyper-V leaves the VM C(Off) after restoring a production checkpoint, because the checkpoint has no memory state.
    With the default O(power_state=previous), the module starts the VM again when it was running before the restore.
    O(power_state) can also always start the VM, or keep it off without the restored guest ever running.
  - Checkpoint-VM takes a checkpoint under Hyper-V's default name first and renames it afterwards. When the rename
    fails, or the connection is lost in between, the host or the task's retry finds the checkpoint made since the
    attempt began, renames it to O(name) and warns; no second checkpoint is made.
  - Deleting a checkpoint makes Hyper-V merge its differencing disk (C(.avhdx)) into its parent or child while the VM
    runs. The merge needs free disk space and can take long. See O(wait), O(timeout) and O(on_merge).
  - Ages (O(max_age), O(older_than)) are measured with the controller's clock against the creation times the host
    reports in UTC. Clock skew between the controller and the host shifts them, so keep both clocks synchronized.
  - O(operation_timeout) limits each operation on the host, while O(timeout) limits the wait for disk merges.
    WinRM's own timeouts (C(ansible_winrm_operation_timeout_sec), C(ansible_winrm_read_timeout_sec)) can stay at
    their defaults.
  - When the host is busy (the VM is in use by another operation, or in a state that cannot change right now) or the
    connection drops, an operation is retried up to 3 times with growing delays. If a checkpoint was in fact created
    before the connection dropped, the task finds it and does not create a second one. It then warns, and
    RV(taken_type) and RV(fell_back) are V(null).
  - Hyper-V shows the disk merge of a deleted checkpoint only a moment after the delete. With O(wait=true) the host
    waits up to 10 seconds for the merge to show, or for the disk chain to get shorter, before the task waits for the
    merge to end.
  - The host must run PowerShell in FullLanguage mode. Under an AppLocker or WDAC policy that puts remote sessions in
    ConstrainedLanguage mode, the task fails with RV(error_code=constrained_language). JEA endpoints are not
    supported (docs/host-fidelity.md).
  - Failures that the module detects carry RV(error_code) and RV(error_details). The message names the VM and the host
    and says what to do. Invalid option types or combinations rejected by the argument spec only have C(msg).
  - An answer from the host that is not the collection's JSON document (output of a profile, a cut-off answer, a
    PowerShell error record, no output at all, or a document without the promised keys) fails the task with
    RV(error_code=protocol_error) and the host's own words in the message. An error code this version of the collection
    does not know is passed on as the host sent it, with the host's message.
  - In check mode, the module reads the host and plans, then changes nothing. RV(actions) lists the planned operations
    with C(done=false). A restore reports changed in check mode too.
attributes:
  action:
    description: Runs on the Ansible controller as an action plugin and talks to the Hyper-V host over the task's
      connection.
    support: full
  async:
    description: The task cannot run asynchronously (C(async)/C(poll)).
    support: none
  check_mode:
    description: Reads the VM and its checkpoints and plans, but changes nothing. C(changed) tells whether the task
      would change the VM, and RV(actions) lists the planned operations with C(done=false). A checkpoint that would be
      created has RV(checkpoint.id=null).
    support: full
  diff_mode:
    description: When the task changes something, the diff shows the VM's checkpoint tree before and after as text.
      Each line is one checkpoint (C(name [id] creation_time)), indented under its parent, and C(<- Now) marks the
      checkpoint the VM's current state derives from. The "after" tree is predicted from the planned operations; it is
      not read again from the host.
    support: full
  platform:
    description: The target is a Windows Hyper-V host.
    support: full
    platforms: windows
seealso:
  - module: hyperv.checkpoint.hyperv_checkpoint_info
    description: List the checkpoints of one, several or all VMs of a host, with ages, sizes and the checkpoint tree.
  - module: hyperv.checkpoint.hyperv_checkpoint_type
    description: Set a VM's checkpoint type (standard, production, production only, disabled) and related settings.
  - name: Using checkpoints to revert virtual machines to a previous state
    description: Microsoft's documentation of Hyper-V checkpoints, production and standard checkpoints.
    link: https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/checkpoints
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
"""

EXAMPLES = r"""
# The play targets the guests; every checkpoint task runs against the guest's
# Hyper-V host (the hyperv_host variable) and names the VM after the guest.

- name: Checkpoint the VM before patching (reused when the play runs again the same night)
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    max_age: 12h
  delegate_to: "{{ hyperv_host }}"
  register: pre_patch

- name: Show what the checkpoint task did
  ansible.builtin.debug:
    msg: >-
      {{ pre_patch.checkpoint.name }} ({{ pre_patch.checkpoint.id }}):
      {{ 'new ' ~ pre_patch.taken_type ~ ' checkpoint' if pre_patch is changed else 'existing checkpoint reused' }}

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

- name: Note the fallback in the change record
  ansible.builtin.debug:
    msg: The guest could not quiesce; a standard checkpoint (with memory state) was taken.
  when: cp.fell_back | default(false)

- name: Patch with a way back
  block:
    - name: Checkpoint before patching
      hyperv.checkpoint.hyperv_checkpoint:
        vm: "{{ inventory_hostname }}"
        name: CHG0042 before patching
      delegate_to: "{{ hyperv_host }}"
      register: checkpoint

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
    - name: Restore the checkpoint and start the VM
      hyperv.checkpoint.hyperv_checkpoint:
        vm: "{{ inventory_hostname }}"
        checkpoint_id: "{{ checkpoint.checkpoint.id }}"
        state: restored
        power_state: running
      delegate_to: "{{ hyperv_host }}"
      when: checkpoint is succeeded

    - name: Report the failed change
      ansible.builtin.fail:
        msg: Patching failed on {{ inventory_hostname }}; the VM was restored if its checkpoint had been taken

- name: Restore a checkpoint and bring the VM back to the power state it had (Running stays Running)
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    state: restored
    power_state: previous
  delegate_to: "{{ hyperv_host }}"
  when: patch_result is failed

- name: Restore a checkpoint and leave the VM as the restore left it (Off after a production checkpoint)
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    state: restored
    power_state: as_checkpoint
  delegate_to: "{{ hyperv_host }}"
  when: patch_result is failed
  register: restored

- name: Show the VM's state after the restore
  ansible.builtin.debug:
    msg: "{{ restored.vm.name }} was {{ restored.previous_state }} and is now {{ restored.vm.state }}"
  when: restored is changed

- name: Delete the checkpoint and its children after the change was verified, and wait for the merge
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    state: absent
    include_children: true
    wait: true
    timeout: 3600
  delegate_to: "{{ hyperv_host }}"
  register: deleted

- name: Report the merge time
  ansible.builtin.debug:
    msg: "Deleted {{ deleted.removed | map(attribute='name') | join(', ') }}; merge took {{ deleted.merge_seconds }}s"
  when: deleted is changed

- name: Delete a checkpoint without waiting for the merge; refuse to touch the VM while it still merges
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0041 before patching
    state: absent
    wait: false
    on_merge: fail
  delegate_to: "{{ hyperv_host }}"

- name: Keep the pre-patch checkpoint under a permanent name
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    new_name: Baseline 2026-11 (CHG0042)
  delegate_to: "{{ hyperv_host }}"

- name: Rename the checkpoint registered earlier, by id
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    checkpoint_id: "{{ pre_patch.checkpoint.id }}"
    new_name: CHG0042 verified
  delegate_to: "{{ hyperv_host }}"

- name: Clean up patch checkpoints older than 7 days, but always keep the 2 newest
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    state: absent
    name_prefix: CHG
    older_than: 7d
    keep_newest: 2
  delegate_to: "{{ hyperv_host }}"

- name: Clean up with a pattern (the only option that takes wildcards, case-sensitive)
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    state: absent
    name_pattern: "nightly-20??-*"
    older_than: 48h
  delegate_to: "{{ hyperv_host }}"

- name: Preview the clean-up in check mode
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    state: absent
    name_prefix: CHG
    keep_newest: 2
  delegate_to: "{{ hyperv_host }}"
  check_mode: true
  register: preview

- name: List the checkpoints the clean-up would delete
  ansible.builtin.debug:
    msg: "{{ preview.actions | map(attribute='names') | flatten }}"

- name: A name with wildcard characters is literal (deletes only the checkpoint named exactly so)
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: "before patch [test] *"
    state: absent
  delegate_to: "{{ hyperv_host }}"

# Hyper-V allows duplicate checkpoint names. A task that finds several
# checkpoints with its name fails with error_code=ambiguous and lists them in
# error_details.matches; pick one by checkpoint_id.
- name: Find the checkpoints named "before patching"
  hyperv.checkpoint.hyperv_checkpoint_info:
    vm: "{{ inventory_hostname }}"
    name_pattern: before patching
  delegate_to: "{{ hyperv_host }}"
  register: same_name

- name: Restore the newest of them
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    checkpoint_id: "{{ (same_name.vms[0].checkpoints | sort(attribute='creation_time') | last).id }}"
    state: restored
  delegate_to: "{{ hyperv_host }}"

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

- name: Checkpoint, and tell the operator when a checkpoint is refused
  hyperv.checkpoint.hyperv_checkpoint:
    vm: "{{ inventory_hostname }}"
    name: CHG0042 before patching
    max_age: 1d
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
  sample:
    id: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
    name: CHG0042 before patching
    vm_name: app01
    vm_id: 3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f
    snapshot_type: Standard
    creation_time: "2026-11-25T13:35:15.1234567Z"
    parent_id: null
    is_current: true
vm:
  description:
    - A summary of the VM.
    - After a create, delete or restore (not in check mode), these are the values the host reported after that
      operation (after a delete with O(wait=true), after the merge). Otherwise, for example in check mode, after a
      rename or when nothing changed, they are the values read before the task, except C(current_checkpoint_id),
      which is the VM's position after the task (predicted in check mode).
  returned: success
  type: dict
  contains:
    id:
      description: Id (GUID, lower case) of the VM.
      type: str
      sample: 3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f
    name:
      description: Name of the VM.
      type: str
      sample: app01
    state:
      description: The VM's state, for example C(Running), C(Off), C(Saved) or C(Paused).
      type: str
      sample: Running
    checkpoint_type:
      description: The VM's checkpoint type setting (C(Standard), C(Production), C(ProductionOnly), C(Disabled)), not
        changed by O(checkpoint_type); V(null) on hosts without checkpoint types.
      type: str
      sample: Production
    current_checkpoint_id:
      description: Id of the checkpoint the VM's current state derives from; V(null) when there is none.
      type: str
      sample: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
    merging:
      description:
        - Whether Hyper-V was merging disks of the VM.
        - After a delete this is the value after the wait for the merge (O(wait)), else right after the delete.
      type: bool
      sample: false
    volumes:
      description: The volumes that hold the VM's disks and checkpoint files with their free space (C(path),
        C(free_bytes), C(size_bytes)), as M(hyperv.checkpoint.hyperv_checkpoint_info) describes them.
      type: list
      elements: dict
      version_added: 0.2.0
      sample:
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
      description: C(create) only. The type requested with O(checkpoint_type) (C(Standard), C(Production),
        C(ProductionOnly)), or V(null) when the VM's own setting applied.
      type: str
      sample: ProductionOnly
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
  sample:
    - action: create
      name: CHG0042 before patching
      checkpoint_type: null
      done: true
      checkpoint_id: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
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
  sample:
    - id: 9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4
      name: CHG0041 before patching
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
error_code:
  description:
    - A stable code for the failure. Codes from the module's own checks are C(invalid_option), C(ambiguous),
      C(checkpoint_not_found), C(not_a_user_checkpoint), C(checkpoint_too_old), C(name_in_use),
      C(checkpoints_disabled), C(limit_reached), C(low_disk_space), C(unsupported_on_host), C(merge_in_progress) and
      C(merge_timeout).
    - Codes from the host or the connection are C(vm_not_found), C(ambiguous) (VM name),
      C(owned_by_other_node), C(production_checkpoint_failed), C(low_disk_space), C(busy) (retried first),
      C(hyperv_timeout), C(access_denied), C(hyperv_module_missing), C(constrained_language), C(timeout),
      C(connection_lost), C(protocol_error), C(invalid_request) and C(host_error) (any other error, with the host's
      message). docs/host-protocol.md maps the host's error ids to them.
    - C(unsupported_connection) when the task's connection cannot run Windows PowerShell (a POSIX shell, or
      C(ansible_connection=local) without C(delegate_to)); nothing is sent then.
  returned: failure, except for option errors found by the argument spec
  type: str
  sample: ambiguous
error_details:
  description:
    - Details of the failure, depending on RV(error_code). For example, C(matches) (a list of C(id), C(name) and
      C(creation_time)) for C(ambiguous) checkpoint names, C(checkpoint) and C(age_seconds) for C(checkpoint_too_old),
      C(elapsed) for C(merge_timeout), C(timeout) for C(timeout), and C(exception_type), C(fully_qualified_error_id) and
      C(category) for C(host_error).
    - An empty dict when there are no details.
  returned: failure, except for option errors found by the argument spec
  type: dict
  sample:
    matches:
      - id: 9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4
        name: before patching
        creation_time: "2026-11-18T22:01:07.5550000Z"
      - id: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
        name: before patching
        creation_time: "2026-11-25T22:00:41.1230000Z"
"""
