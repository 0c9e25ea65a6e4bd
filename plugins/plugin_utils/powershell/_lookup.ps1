# Finding VMs and checkpoints: by id, or by name compared literally as Hyper-V compares names.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Test-SameName {
    # Names compare as Hyper-V compares them (Get-VM -Name is a case-insensitive wildcard pattern), but
    # literally: no wildcard characters, and the same comparison whatever the host's culture.
    param([string]$Left, [string]$Right)
    [string]::Equals($Left, $Right, [System.StringComparison]::OrdinalIgnoreCase)
}

function Get-TargetVM {
    # Names match literally and case-insensitively, as Hyper-V compares them; names equal but for case
    # are ambiguous. $From lets a caller resolve many names against one listing.
    param([string]$Name, [string]$Id, [object[]]$From)
    $owner = $null
    $matchedBy = 'vm_id'
    $names = $null
    if ($Id) {
        $label = $Id
        $guid = [guid]::Empty
        if ([guid]::TryParse($Id, [ref]$guid)) {
            # How Get-VM -Id reports an unknown id is unverified; if it returns nothing, the plain
            # listing tells "not there" from real failures (access denied), which it raises.
            $vm = $null
            try { $vm = Hyper-V\Get-VM -Id $guid -ErrorAction SilentlyContinue } catch { $vm = $null }
            if ($null -eq $vm) { $vm = Hyper-V\Get-VM | Where-Object { $_.Id -eq $guid } | Select-Object -First 1 }
            if ($null -ne $vm) { return $vm }
            $owner = Get-ClusterOwner -VMId $guid
        }
    } else {
        $label = $Name
        if ($null -eq $From) { $From = @(Hyper-V\Get-VM) }
        $found = @($From | Where-Object { Test-SameName $_.Name $Name })
        if ($found.Count -eq 1) { return $found[0] }
        if ($found.Count -gt 1) {
            $candidates = @(foreach ($vm in $found) { [ordered]@{ id = (ConvertTo-Text $vm.Id); name = [string]$vm.Name } })
            $message = "{0} VMs are named '{1}' as Hyper-V compares names (case aside); use the VM id" -f $found.Count, $Name
            Stop-Operation -Code 'ambiguous' -Message $message -Details ([ordered]@{ vm = $Name; matches = $candidates })
        }
        # For the controller's "did you mean": the names there are.
        $names = @(foreach ($vm in $From) { [string]$vm.Name })
        $owner = Get-ClusterRoleOwner -Name $Name
        $matchedBy = 'cluster_role_name'
    }
    if ($owner -and $owner -ne $env:COMPUTERNAME) {
        $message = "VM '{0}' is a clustered VM owned by node {1}; run the task against that node" -f $label, $owner
        if ($matchedBy -eq 'cluster_role_name') {
            $message = ("VM '{0}' is not on this host; the cluster role named '{0}' is owned by node {1}: run the " +
                "task against that node (address the VM by vm_id to find it by its id)") -f $label, $owner
        }
        Stop-Operation -Code 'owned_by_other_node' -Message $message -Details ([ordered]@{
            vm = $label; owner_node = $owner; matched_by = $matchedBy })
    }
    $message = "No VM '{0}' on host {1}" -f $label, $env:COMPUTERNAME
    $details = [ordered]@{ vm = $label; computer_name = $env:COMPUTERNAME }
    if ($null -ne $names) { $details['names'] = $names }
    Stop-Operation -Code 'vm_not_found' -Message $message -Details $details
}

function Get-ListedVM {
    # Get-TargetVM for a listing; with $Missing (a list), a VM that is not on this host is added to it
    # instead of failing the operation.
    param([string]$Name, [string]$Id, [object[]]$From, [System.Collections.ArrayList]$Missing)
    if ($null -eq $Missing) { return (Get-TargetVM -Name $Name -Id $Id -From $From) }
    try {
        Get-TargetVM -Name $Name -Id $Id -From $From
    } catch {
        $code = [string]$_.Exception.Data['hyperv_code']
        if ($code -ne 'vm_not_found' -and $code -ne 'owned_by_other_node') { throw }
        $label = $Name
        if ($Id) { $label = $Id }
        [void]$Missing.Add([ordered]@{ vm = $label; code = $code; message = $_.Exception.Message
            details = $_.Exception.Data['hyperv_details'] })
    }
}

function Find-Checkpoint {
    # By id only: names are neither unique nor literal (-Name is a wildcard pattern).
    param($VM, [string]$Id, [switch]$MustExist)
    $snapshot = Hyper-V\Get-VMSnapshot -VM $VM | Where-Object { [string]$_.Id -eq $Id } | Select-Object -First 1
    if ($null -eq $snapshot -and $MustExist) {
        $message = "VM '{0}' has no checkpoint with id {1}" -f $VM.Name, $Id
        Stop-Operation -Code 'checkpoint_not_found' -Message $message -Details ([ordered]@{ vm = [string]$VM.Name; checkpoint = $Id })
    }
    $snapshot
}
