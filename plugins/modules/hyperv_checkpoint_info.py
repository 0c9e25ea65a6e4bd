#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation of the module. The module is implemented
# by the action plugin plugins/action/hyperv_checkpoint_info.py, which runs on the
# controller and talks to the Hyper-V host over the task's connection.

DOCUMENTATION = r"""
---
module: hyperv_checkpoint_info
short_description: List the checkpoints of Hyper-V virtual machines
version_added: 0.1.0
description:
  - Reports the checkpoints (snapshots) of one, several or all virtual machines of a Hyper-V host. For each checkpoint
    it gives its age, its size on disk and its place in the checkpoint tree. For each VM it gives its checkpoint
    settings, its state, whether a disk merge is running, and a text drawing of its checkpoint tree.
  - O(name_pattern) and O(older_than) filter the checkpoints listed per VM. They can find, for example, checkpoints
    left over from earlier patch windows.
  - The module only reads. It never changes the host and always reports C(changed=false).
  - O(on_missing=report) lists VMs that are not on the host in RV(missing_vms) instead of failing the whole listing.
  - The module runs on the Ansible controller, as an action plugin. It reads everything with one PowerShell run on
    the Hyper-V host, over the task's connection. Point the task at the Hyper-V host, usually with C(delegate_to).
  - Unlike M(hyperv.checkpoint.hyperv_checkpoint), it lists checkpoints of every snapshot type. This includes
    C(Recovery) checkpoints left by backup software and C(Replica) checkpoints of Hyper-V Replica, besides the user
    checkpoints (C(Standard)). RV(vms[].checkpoints[].snapshot_type) tells them apart.
extends_documentation_fragment: [hyperv.checkpoint._hyperv_host, hyperv.checkpoint._hyperv_host.follow]
options:
  vm:
    description:
      - Names of the virtual machines to report on. Can be combined with O(vm_id). When neither O(vm) nor O(vm_id) is
        set, the task reports on all VMs of the host, ordered by name.
      - A name that is not on the host fails the whole task with RV(error_code=vm_not_found), unless
        O(on_missing=report). An empty name fails with RV(error_code=invalid_option).
    type: list
    elements: str
  vm_id:
    description:
      - Ids (GUIDs) of the virtual machines to report on, compared case-insensitively. Can be combined with O(vm).
      - An id that is not on the host fails the task with RV(error_code=vm_not_found), unless O(on_missing=report).
    type: list
    elements: str
  on_missing:
    description:
      - What to do with a VM of O(vm) or O(vm_id) that is not on the host (or is owned by another cluster node).
      - V(fail) fails the whole task with its RV(error_code) (C(vm_not_found), C(owned_by_other_node)).
      - V(report) reports the others and lists each missing one in RV(missing_vms), with the error it would have
        failed with.
    type: str
    choices: [fail, report]
    default: fail
    version_added: 0.2.0
  name_pattern:
    description:
      - List only the checkpoints whose names match this shell-style pattern in RV(vms[].checkpoints).
      - The pattern must match the whole name, and the match is case-sensitive. V(*) matches any text, V(?) any one
        character, V([seq]) one character in C(seq), and V([!seq]) one character not in C(seq). A pattern without these
        characters matches exactly that name.
      - Together with O(older_than), a checkpoint is listed only when it matches both.
      - It does not filter VMs. Every VM asked for is reported, possibly with an empty checkpoint list. It does not
        change RV(vms[].checkpoint_total), RV(vms[].oldest_age_seconds), RV(vms[].newest_age_seconds),
        RV(vms[].total_size_bytes) or RV(vms[].tree), which always cover all checkpoints of the VM.
    type: str
  older_than:
    description:
      - List only the checkpoints older than this duration, strictly, in RV(vms[].checkpoints).
      - A duration is a whole number with an optional unit, either V(s), V(m), V(h), V(d) or V(w). The unit is not
        case-sensitive; V(90m), V(48h), V(7d) and V(2w) are examples. A number alone is seconds, for example
        V(3600). It must be greater than zero. Combined values such as V(1d12h) are not accepted. An invalid duration
        fails with RV(error_code=invalid_option) before the host is contacted.
      - The age is the controller's current time minus the checkpoint's creation time in UTC, as the host reports
        it.
      - Together with O(name_pattern), a checkpoint is listed only when it matches both. The same caveats as for
        O(name_pattern) apply.
    type: str
  include_sizes:
    description:
      - Report the size on disk of each checkpoint's own differencing disks (RV(vms[].checkpoints[].size_bytes)), of all
        checkpoints of a VM (RV(vms[].total_size_bytes)) and of the chain of disk files under the VM's running disks
        (RV(vms[].disk_chain_bytes)).
      - The host asks for the disks of every checkpoint (C(Get-VMHardDiskDrive -VMSnapshot)) and reads every disk file
        once (C(Get-VHD)), which can take a while on hosts with many checkpoints (docs/host-fidelity.md has what it
        costs on a 500-VM host). With V(false), the sizes are V(null).
    type: bool
    default: true
notes:
  - A single string given for O(vm) or O(vm_id) is one entry, even when it contains commas.
  - Hyper-V cmdlets only see the VMs of the host they run on. For a cluster, run the task on each node, or on the node
    that owns the VM.
  - Checkpoints are not backups. They depend on the VM's virtual disks and slow the VM's disk I/O as they grow, so use
    this module to find checkpoints that were forgotten and delete them with M(hyperv.checkpoint.hyperv_checkpoint).
  - Ages (RV(vms[].checkpoints[].age_seconds), O(older_than)) are measured with the controller's clock against the
    creation times the host reports in UTC. Clock skew between the controller and the host shifts them; an age can even
    be negative when the host's clock runs ahead.
attributes:
  check_mode:
    description: The module only reads, and it runs and returns the same information in check mode.
    support: full
  diff_mode:
    description: The module changes nothing, so it has no diff.
    support: none
seealso:
  - module: hyperv.checkpoint.hyperv_checkpoint
    description: Create, restore, rename and delete checkpoints, and clean up old ones.
  - module: hyperv.checkpoint.hyperv_checkpoint_type
    description: Set a VM's checkpoint type (standard, production, production only, disabled) and related settings.
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
"""

EXAMPLES = r"""
- name: Read the checkpoints of this guest's VM
  hyperv.checkpoint.hyperv_checkpoint_info:
    vm: "{{ inventory_hostname }}"
  delegate_to: "{{ hyperv_host }}"
  register: cp_info

- name: Show the checkpoint tree of the VM
  ansible.builtin.debug:
    msg: "{{ cp_info.vms[0].tree }}"

- name: Fail when the VM has no checkpoint to go back to
  ansible.builtin.assert:
    that:
      - cp_info.vms[0].current_checkpoint_id is not none
    fail_msg: "{{ inventory_hostname }} has no checkpoint above its current state"

- name: Read several VMs at once, without the (slower) disk sizes
  hyperv.checkpoint.hyperv_checkpoint_info:
    vm:
      - sql01
      - sql02
      - app01
    include_sizes: false
  delegate_to: "{{ hyperv_host }}"
  register: several

- name: Read several VMs, listing those that are not on this host instead of failing
  hyperv.checkpoint.hyperv_checkpoint_info:
    vm: "{{ groups['guests'] | map('extract', hostvars, 'hyperv_vm_name') | list }}"
    on_missing: report
  delegate_to: hv01.example.com
  run_once: true
  register: listing

- name: Say which VMs hv01 does not have
  ansible.builtin.debug:
    msg: "{{ listing.missing_vms | map(attribute='msg') | list }}"
  run_once: true
  when: listing.missing_vms | length > 0

- name: Read VMs by id (names need not be unique)
  hyperv.checkpoint.hyperv_checkpoint_info:
    vm_id:
      - 3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f
  delegate_to: "{{ hyperv_host }}"

- name: Read all VMs of a Hyper-V host
  hyperv.checkpoint.hyperv_checkpoint_info:
  delegate_to: hv01.example.com
  run_once: true
  register: all_vms

- name: Summarize the host
  ansible.builtin.debug:
    msg: >-
      {{ all_vms.host.computer_name }}: {{ all_vms.vm_count }} VMs,
      {{ all_vms.checkpoint_count }} checkpoints,
      merging now: {{ all_vms.merging_vms | join(', ') or 'none' }}
  run_once: true

- name: List the pre-patch checkpoints older than two days
  hyperv.checkpoint.hyperv_checkpoint_info:
    vm: "{{ inventory_hostname }}"
    name_pattern: "CHG* before patching"
    older_than: 2d
  delegate_to: "{{ hyperv_host }}"
  register: old_patch_points

- name: Find stale checkpoints (older than 7 days) on the whole host
  hyperv.checkpoint.hyperv_checkpoint_info:
    older_than: 7d
  delegate_to: hv01.example.com
  run_once: true
  register: stale

- name: Report each stale checkpoint with its VM, age and size
  ansible.builtin.debug:
    msg: >-
      {{ item.0.name }}: '{{ item.1.name }}' ({{ item.1.snapshot_type }}),
      {{ (item.1.age_seconds / 86400) | round(1) }} days old,
      {{ ((item.1.size_bytes | default(0, true)) / 1073741824) | round(1) }} GiB
  loop: "{{ stale.vms | subelements('checkpoints') }}"
  loop_control:
    label: "{{ item.0.name }} / {{ item.1.name }}"
  run_once: true

- name: Fail the compliance check when stale checkpoints exist
  ansible.builtin.assert:
    that:
      - stale.matching_count == 0
    fail_msg: >-
      {{ stale.matching_count }} checkpoints older than 7 days on
      {{ stale.vms | selectattr('checkpoint_matching') | map(attribute='name') | join(', ') }}
  run_once: true

- name: Delete the stale user checkpoints found above (not Recovery or Replica ones)
  hyperv.checkpoint.hyperv_checkpoint:
    vm_id: "{{ item.0.id }}"
    checkpoint_id: "{{ item.1.id }}"
    state: absent
  loop: "{{ stale.vms | subelements('checkpoints') | selectattr('1.snapshot_type', 'eq', 'Standard') | list }}"
  loop_control:
    label: "{{ item.0.name }} / {{ item.1.name }}"
  delegate_to: hv01.example.com
  run_once: true

- name: Wait until no disk merge runs on the VM before the maintenance starts
  hyperv.checkpoint.hyperv_checkpoint_info:
    vm: "{{ inventory_hostname }}"
    include_sizes: false
  delegate_to: "{{ hyperv_host }}"
  register: merge_state
  until: merge_state.merging_vms | length == 0
  retries: 60
  delay: 30
"""

RETURN = r"""
host:
  description: The Hyper-V host that answered.
  returned: success
  type: dict
  contains:
    computer_name:
      description: The host's computer name.
      type: str
      sample: HV01
    os_caption:
      description: The host's Windows edition.
      type: str
      sample: Microsoft Windows Server 2022 Datacenter
    os_version:
      description: The host's Windows version.
      type: str
      sample: 10.0.20348
    supports_checkpoint_type:
      description: Whether the host has checkpoint types (production checkpoints), Windows Server 2016 and later.
      type: bool
      sample: true
    supports_automatic_checkpoints:
      description: Whether the host has automatic checkpoints, Windows Server 2019 and later.
      type: bool
      sample: true
    time:
      description: The host's clock when it answered, in UTC (ISO 8601).
      type: str
      sample: "2026-11-25T13:40:02.5550000Z"
      version_added: 0.2.0
vms:
  description:
    - One entry per VM. The VMs named in O(vm) come first, in the order given, then those in O(vm_id). When all VMs
      are reported, they are ordered by name.
    - A VM given twice, for example by name and by id, is reported once, where it was first given, and counted once.
  returned: success
  type: list
  elements: dict
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
      description: The VM's checkpoint type setting as Hyper-V spells it, either C(Standard), C(Production),
        C(ProductionOnly) or C(Disabled). V(null) on hosts without checkpoint types.
      type: str
      sample: Production
    checkpoint_type_option:
      description: The same setting as the options spell it (C(standard), C(production), C(production_only),
        C(disabled)); V(null) on hosts without checkpoint types.
      type: str
      sample: production
      version_added: 0.2.0
    automatic_checkpoints:
      description: Whether Hyper-V takes a checkpoint automatically when the VM starts. V(null) where the host does not
        support it (before Windows Server 2019).
      type: bool
      sample: false
    checkpoint_location:
      description: The folder for the checkpoints' configuration and saved-state files (C(SnapshotFileLocation)).
      type: str
      sample: 'D:\Hyper-V\app01'
    current_checkpoint_id:
      description: Id of the checkpoint the VM's current state derives from (the "Now" position). V(null) when there is
        none.
      type: str
      sample: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
    current_checkpoint_name:
      description: Name of that checkpoint. V(null) when there is none.
      type: str
      sample: CHG0042 before patching
    is_clustered:
      description: Whether the VM is a clustered (highly available) VM.
      type: bool
      sample: false
    owner_node:
      description: The cluster node that owns the VM. V(null) when the VM is not clustered.
      type: str
      sample: null
    computer_name:
      description: The Hyper-V host that holds the VM.
      type: str
      sample: HV01
    primary_status:
      description: The VM's primary operational status, for example C(Ok).
      type: str
      sample: Ok
    secondary_status:
      description: The VM's secondary operational status, for example C(MergingDisks), or V(null).
      type: str
      sample: null
    merging:
      description: Whether Hyper-V is merging disks of the VM, for example after a checkpoint was deleted.
      type: bool
      sample: false
    checkpoint_count:
      description:
        - The number of user checkpoints (snapshot type C(Standard)) of the VM, as the host counts them.
        - It does not include C(Recovery) or C(Replica) checkpoints, unlike RV(vms[].checkpoint_total). Hyper-V's limit
          of 50 applies to all of them, so to RV(vms[].checkpoint_total).
      type: int
      sample: 2
    volumes:
      description:
        - The volumes that hold the VM's virtual disks (differencing disks are made next to them) and its checkpoint
          files, each once, with their free space. A checkpoint's differencing disk grows with every write, and Hyper-V
          pauses the VM when its volume fills.
        - RV(vms[].volumes[].free_bytes) and RV(vms[].volumes[].size_bytes) are V(null) for a path on no local volume
          of the host, for example an SMB share.
      type: list
      elements: dict
      version_added: 0.2.0
      contains:
        path:
          description: The volume's mount point (C(Win32_Volume) C(Name)), for example C(C:\) or
            C(C:\ClusterStorage\Volume1\), or the root of a share.
          type: str
          sample: 'D:\'
        free_bytes:
          description: Free space in bytes.
          type: int
          sample: 214748364800
        size_bytes:
          description: Size of the volume in bytes.
          type: int
          sample: 1099511627776
      sample:
        - path: 'D:\'
          free_bytes: 214748364800
          size_bytes: 1099511627776
    disk_chain_bytes:
      description:
        - The size of every file in the chains under the VM's running virtual disks, from its current differencing
          disks down to its base disks. V(null) with O(include_sizes=false), or when a file cannot be read.
      type: int
      sample: 64424509440
      version_added: 0.2.0
    type_override:
      description:
        - Set when a checkpoint is being taken with the VM's checkpoint type switched for it (C(live=true)), or when a
          run was stopped in that moment and left the type switched (C(live=false)); V(null) otherwise.
        - C(original_type) is the type to put back (V(null) while C(live)). The next checkpoint that
          M(hyperv.checkpoint.hyperv_checkpoint) takes of the VM puts it back, and setting the type with
          M(hyperv.checkpoint.hyperv_checkpoint_type) clears it.
      type: dict
      sample: null
      version_added: 0.2.0
      contains:
        original_type:
          description: The checkpoint type the VM had before it was switched.
          type: str
          sample: Production
        live:
          description: Whether the run that switched the type is still running.
          type: bool
          sample: false
    checkpoints:
      description:
        - The VM's checkpoints of every snapshot type that match O(name_pattern) and O(older_than), ordered by
          creation time, oldest first. All checkpoints when neither option is set.
      type: list
      elements: dict
      contains:
        id:
          description: Id (GUID, lower case) of the checkpoint.
          type: str
          sample: 5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c
        name:
          description: Name of the checkpoint.
          type: str
          sample: CHG0042 before patching
        vm_id:
          description: Id of the VM.
          type: str
          sample: 3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f
        vm_name:
          description: Name of the VM.
          type: str
          sample: app01
        parent_id:
          description: Id of the parent checkpoint. V(null) for a root checkpoint.
          type: str
          sample: 9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4
        parent_name:
          description: Name of the parent checkpoint. V(null) for a root checkpoint.
          type: str
          sample: Baseline 2026-10
        creation_time:
          description: When the checkpoint was taken, in UTC (ISO 8601).
          type: str
          sample: "2026-11-25T13:35:15.1234567Z"
        snapshot_type:
          description: Hyper-V's snapshot type. C(Standard) marks user checkpoints, both production and standard ones.
            C(Recovery) marks checkpoints of backup software, and C(Replica) and related types come from Hyper-V
            Replica.
          type: str
          sample: Standard
        is_automatic:
          description: Whether Hyper-V took the checkpoint automatically when the VM started. V(null) where the host
            does not record it.
          type: bool
          sample: false
        has_memory_state:
          description: Whether the checkpoint holds the VM's memory (a saved state). A standard checkpoint of a running
            VM does; a production checkpoint, and any checkpoint of a VM that was off, does not.
          type: bool
          sample: false
          version_added: 0.2.0
        kind:
          description: What the collection knows of the checkpoint's kind - C(standard) when it holds the VM's memory
            state, else C(unknown) (Hyper-V does not record whether a checkpoint without memory state is a production
            one or a standard one of a VM that was off).
          type: str
          sample: unknown
          version_added: 0.2.0
        size_bytes:
          description:
            - The size of the checkpoint's own differencing disks (C(.avhdx)), the changes written after it was taken,
              which deleting it merges away. They are the disks its child checkpoints refer to, and the VM's running
              disks when it is the VM's current checkpoint. A checkpoint on a branch the VM left, without children,
              has none (V(0)).
            - The disk a checkpoint refers to itself (C(Get-VMHardDiskDrive -VMSnapshot)) is its parent's, or for a
              root checkpoint the VM's base disk, so it is not counted here.
            - V(null) with O(include_sizes=false), and when a disk file cannot be read, for example because it was
              moved or is in use on shared storage by another node.
          type: int
          sample: 4294967296
        age_seconds:
          description: Age of the checkpoint in whole seconds. This is the controller's time minus
            RV(vms[].checkpoints[].creation_time).
          type: int
          sample: 86400
        is_current:
          description: Whether the VM's current state derives from this checkpoint (the "Now" position).
          type: bool
          sample: true
        depth:
          description: Depth of the checkpoint in the VM's checkpoint tree. A root checkpoint has depth 0, and its
            children have depth 1.
          type: int
          sample: 1
    checkpoint_total:
      description: Number of all checkpoints of the VM, of every snapshot type, whatever O(name_pattern) and
        O(older_than) select.
      type: int
      sample: 2
    checkpoint_matching:
      description: Number of checkpoints listed in RV(vms[].checkpoints), meaning those that match O(name_pattern) and
        O(older_than).
      type: int
      sample: 1
    oldest_age_seconds:
      description: Age in seconds of the VM's oldest checkpoint, over all its checkpoints. V(null) when the VM has none.
      type: int
      sample: 1209600
    newest_age_seconds:
      description: Age in seconds of the VM's newest checkpoint, over all its checkpoints. V(null) when the VM has none.
      type: int
      sample: 86400
    total_size_bytes:
      description: The space the VM's checkpoints take, the sum of RV(vms[].checkpoints[].size_bytes) over all checkpoints of the VM, whatever
        O(name_pattern) and O(older_than) select, leaving out sizes that are V(null). V(null) when no size is known,
        for example when the VM has no checkpoints or with O(include_sizes=false).
      type: int
      sample: 6442450944
    tree:
      description:
        - All checkpoints of the VM as a text tree. Each line is one checkpoint (C(name [id] creation_time)), indented
          two spaces per level under its parent, and C(<- Now) marks the checkpoint the VM's current state derives
          from.
        - "Without a checkpoint above the current state, the last line is C((Now: no checkpoint above the running
          state))."
      type: str
      sample: |
        Baseline 2026-10 [9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4] 2026-11-11T08:00:02.0000000Z
          CHG0042 before patching [5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c] 2026-11-25T13:35:15.1234567Z  <- Now
vm_count:
  description: Number of VMs reported.
  returned: success
  type: int
  sample: 1
checkpoint_count:
  description:
    - Number of all checkpoints of the reported VMs, of every snapshot type. This is the sum of
      RV(vms[].checkpoint_total), not of RV(vms[].checkpoint_count), and O(name_pattern) and O(older_than) do not
      change it.
  returned: success
  type: int
  sample: 2
matching_count:
  description: Number of checkpoints that match O(name_pattern) and O(older_than) over all reported VMs. This is the
    sum of RV(vms[].checkpoint_matching).
  returned: success
  type: int
  sample: 1
merging_vms:
  description: Names of the reported VMs on which Hyper-V is merging disks.
  returned: success
  type: list
  elements: str
  sample: []
missing_vms:
  description: With O(on_missing=report), the VMs asked for that are not on the host, each with the failure it would
    have caused.
  returned: success, with O(on_missing=report)
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    vm:
      description: The name or id as given in O(vm) or O(vm_id).
      type: str
      sample: app99
    error_code:
      description: C(vm_not_found), or C(owned_by_other_node) for a clustered VM on another node.
      type: str
      sample: vm_not_found
    msg:
      description: The host's message, with the closest VM names of the host for a name not found.
      type: str
      sample: "No VM 'app99' on host HV01; did you mean 'app01'?"
    error_details:
      description: As RV(error_details) for that code.
      type: dict
      sample: {"vm": "app99", "computer_name": "HV01", "suggestions": ["app01"]}
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
    - A stable code for the failure, for example C(invalid_option), C(vm_not_found), C(ambiguous),
      C(owned_by_other_node) (the VM runs on a cluster node the task did not follow it to), C(migrating) (a live
      migration that did not end in time), C(cluster_unreadable) (the user may not read the failover cluster),
      C(hyperv_module_missing), C(busy), C(timeout), C(connection_lost), C(session_rejected),
      C(protocol_error), C(invalid_request) or C(host_error) (any other error, with the host's message).
    - C(unsupported_connection) when the task's connection cannot run Windows PowerShell (a POSIX shell, or
      C(ansible_connection=local) without C(delegate_to)); nothing is sent then.
  returned: failure
  type: str
  sample: vm_not_found
error_details:
  description:
    - Details of the failure, depending on RV(error_code). For example, C(vm), C(computer_name) and C(suggestions)
      (the host's closest VM names) for C(vm_not_found), C(vm) and C(matches) for C(ambiguous), and
      C(exception_type), C(fully_qualified_error_id) and C(category) for C(host_error). An empty dict when there are
      no details.
  returned: failure
  type: dict
  sample:
    vm: app99
    computer_name: HV01
    suggestions: [app01]
"""
