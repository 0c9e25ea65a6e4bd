# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: what every module that runs operations on a Hyper-V host shares."""

from __future__ import annotations


class ModuleDocFragment:
    # The option, notes, attributes (check_mode and diff_mode differ per module) and the Microsoft page every module
    # that runs PowerShell operations on a Hyper-V host shares.
    DOCUMENTATION = r"""
options:
  operation_timeout:
    description:
      - Maximum number of seconds for each single operation on the Hyper-V host, meaning one PowerShell run over the
        connection (a read, a create, a restore, a delete, a settings change). It must be greater than zero, else the
        task fails with RV(error_code=invalid_option) before the host is contacted.
      - When it runs out, the task fails with RV(error_code=timeout). The operation may still be running on the host,
        so check the VM before you run the task again. Raise it for slow operations, for example a checkpoint of a
        VM with a lot of memory.
      - WinRM's own timeouts (C(ansible_winrm_operation_timeout_sec), C(ansible_winrm_read_timeout_sec)) can stay at
        their defaults.
    type: int
    default: 600
notes:
  - The module is an action plugin that runs on the Ansible controller. It sends small Windows PowerShell 5.1 scripts
    to the Hyper-V host over the task's connection (C(winrm), C(psrp), or C(ssh) with the C(powershell) shell).
    Nothing is installed on the host and no Python is needed there.
  - Run the task against the Hyper-V host, not the guest. Usually the play targets the guests and the task uses
    C(delegate_to) with the Hyper-V host (and C(run_once) when one task covers several VMs). A task whose connection
    cannot run Windows PowerShell (a guest's POSIX shell, or C(ansible_connection=local) without C(delegate_to)) fails
    with RV(error_code=unsupported_connection) and nothing is sent.
  - The Hyper-V host needs Windows Server 2016 or later, the Hyper-V role with the Hyper-V PowerShell module
    (C(Install-WindowsFeature Hyper-V-PowerShell)), a WinRM listener (or OpenSSH) and PowerShell in FullLanguage mode;
    under an AppLocker or WDAC policy that puts remote sessions in ConstrainedLanguage mode the task fails with
    RV(error_code=constrained_language). JEA endpoints are not supported (docs/host-fidelity.md).
  - The connecting user must be a member of the local group C(Hyper-V Administrators) on the host, and of
    C(Remote Management Users) to use WinRM without being an administrator. C(become) is not applied to the scripts.
  - VM names are matched as Hyper-V matches them, case-insensitively, but literally (V(*), V(?) and V([) are
    ordinary characters). Names that are equal but for case are the same name to Hyper-V, so a name that matches
    several VMs fails with RV(error_code=ambiguous) and lists their ids; address such a VM by id. An unknown name
    fails with RV(error_code=vm_not_found), and the message suggests the host's closest VM names.
  - The options that name things must be strings (quote numbers and words like V(yes) in YAML) without control
    characters such as NUL, tab or newline; names travel to the host as data, never as code. Such input, like every
    invalid option, fails before the host is contacted with RV(error_code=invalid_option) and a message that names
    the option.
  - Every failure carries RV(error_code) and RV(error_details). The message names the VM, the Hyper-V host the task
    contacted (its inventory name and, when it answered, its computer name) and says what to do.
  - When the host is busy or the connection drops, an operation is retried up to 3 times with growing delays. An
    answer that is not the collection's JSON document (output of a profile, a cut-off answer, a PowerShell error
    record) fails with RV(error_code=protocol_error) and the host's own words; an error code this version of the
    collection does not know is passed on as the host sent it.
attributes:
  action:
    description: Runs on the Ansible controller as an action plugin and talks to the Hyper-V host over the task's
      connection.
    support: full
  async:
    description: The task cannot run asynchronously (C(async)/C(poll)).
    support: none
  platform:
    description: The target is a Windows Hyper-V host.
    support: full
    platforms: windows
seealso:
  - name: Using checkpoints to revert virtual machines to a previous state
    description: Microsoft's documentation of Hyper-V checkpoints, production and standard checkpoints.
    link: https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/checkpoints
"""

    # The option of the modules that follow a clustered VM to the node that runs it (docs/clusters.md).
    FOLLOW = r"""
options:
  follow_vm:
    description:
      - On a failover cluster, when the VM runs on another node of the cluster than the Hyper-V host the task is
        delegated to (the cluster moved it, by VM load balancing or Cluster-Aware Updating), run the operation on that
        node. The node is found in the inventory by name, compared case-insensitively and with or without the
        domain, against each host's inventory name, C(ansible_host) or C(hyperv_computer_name), and reached with
        its own connection variables (C(winrm) or C(psrp)); never from one node to the other (no second hop). The
        task warns that it followed the VM, and RV(hyperv_node) names the node that acted.
      - A VM in the middle of a live migration is waited for (up to O(operation_timeout)), then followed.
      - When the node is not in the inventory, cannot be reached, or this option is V(false), the task fails with
        RV(error_code=owned_by_other_node), and the C(owner_node) of RV(error_details) names the node.
      - A task about several VMs reads (and changes) each VM that another node runs on that node. C(all_vms=true)
        (M(hyperv.checkpoint.hyperv_checkpoint_type)) and a M(hyperv.checkpoint.hyperv_checkpoint_info) without
        C(vm) or C(vm_id) cover the VMs of the delegated node only, as C(Get-VM) lists them.
    type: bool
    default: true
    version_added: 0.2.0
"""
