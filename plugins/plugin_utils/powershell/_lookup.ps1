# Finding VMs and checkpoints: by id, or by name compared literally as Hyper-V compares names.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Test-SameName {
    # Names compare as Hyper-V compares them (Get-VM -Name is a case-insensitive wildcard pattern), but
    # literally: no wildcard characters, and the same comparison whatever the host's culture.
    param([string]$Left, [string]$Right)
    [string]::Equals($Left, $Right, [System.StringComparison]::OrdinalIgnoreCase)
}

function Test-NotFound {
    # Whether a Hyper-V read's error says only that nothing is there: Get-VM -Id and Get-VMSnapshot -Id
    # give ObjectNotFound, Get-VM -Name an InvalidParameter record per name no VM has (decompiled
    # VirtualizationObjectLocator: GetVirtualMachineById, WriteNonMatchingNameErrors, GetVMSnapshotById).
    param($Record)
    $id = Get-ErrorId -Record $Record
    $id -eq 'ObjectNotFound' -or $id -eq 'InvalidParameter' -or [string]$Record.CategoryInfo.Category -eq 'ObjectNotFound'
}

function Invoke-Lookup {
    # Runs $Read, one Hyper-V read that answers "nothing there" with an error (Test-NotFound): its objects,
    # none for such an error; any other error (access denied) is raised as it came.
    param([scriptblock]$Read)
    $ErrorActionPreference = 'Continue'
    $output = @()
    try {
        $output = @(& $Read 2>&1)
    } catch {
        if (-not (Test-NotFound -Record $_)) { throw }
    }
    foreach ($item in $output) {
        if ($item -isnot [System.Management.Automation.ErrorRecord]) { $item; continue }
        if (-not (Test-NotFound -Record $item)) { throw $item }
    }
}

function Get-VMByName {
    # The VMs named $Name (one or more names). Without a wildcard character Get-VM -Name builds the objects
    # of the VMs of those names only, compared as Test-SameName compares them (OrdinalIgnoreCase, decompiled
    # VirtualizationObjectLocator.GetVirtualMachinesByNamesAndServers): a lookup costs the same on a host with
    # 10 VMs or 1,000. A name with one (a pattern to Get-VM) is compared literally against every VM. A name
    # no VM has is an error record, not a failure; any other error (access denied) is raised.
    param([string[]]$Name)
    $Name = @($Name | Where-Object { $_ })
    if ($Name.Count -eq 0) { return @() }
    if (@($Name | Where-Object { [Management.Automation.WildcardPattern]::ContainsWildcardCharacters($_) }).Count -gt 0) {
        return @(Hyper-V\Get-VM)
    }
    Invoke-Lookup -Read { Hyper-V\Get-VM -Name $Name }.GetNewClosure()
}

function Get-VMById {
    # The VM with id $Id on this host, or $null (Get-VM -Id: ObjectNotFound for an unknown id, decompiled
    # VirtualizationObjectLocator.GetVirtualMachineById); any other error is raised.
    param([guid]$Id)
    Invoke-Lookup -Read { Hyper-V\Get-VM -Id $Id }.GetNewClosure() | Select-Object -First 1
}

function Get-TargetVM {
    # Names match literally and case-insensitively, as Hyper-V compares them; names equal but for case
    # are ambiguous. $From (Get-VMByName of several names) lets a caller resolve many names with one read;
    # $Owners (New-ClusterOwnerTable), what the operation learnt of the cluster already.
    param([string]$Name, [string]$Id, [object[]]$From, [hashtable]$Owners)
    $owner = $null
    $matchedBy = 'vm_id'
    $names = $null
    if ($Id) {
        $label = $Id
        $guid = [guid]::Empty
        if ([guid]::TryParse($Id, [ref]$guid)) {
            $vm = Get-VMById -Id $guid
            if ($null -ne $vm) { return $vm }
            $owner = Get-ClusterOwner -VMId $guid -Known $Owners
        }
    } else {
        $label = $Name
        if ($null -eq $From) { $From = @(Get-VMByName -Name $Name) }
        $found = @($From | Where-Object { Test-SameName $_.Name $Name })
        if ($found.Count -eq 1) { return $found[0] }
        if ($found.Count -gt 1) {
            $candidates = @(foreach ($vm in $found) { [ordered]@{ id = (ConvertTo-Text $vm.Id); name = [string]$vm.Name } })
            $message = "{0} VMs are named '{1}' as Hyper-V compares names (case aside); use the VM id" -f $found.Count, $Name
            Stop-Operation -Code 'ambiguous' -Message $message -Details ([ordered]@{ vm = $Name; matches = $candidates })
        }
        # For the controller's "did you mean": the names there are (a listing of every VM, on this failure only).
        $names = @(foreach ($vm in @(Hyper-V\Get-VM)) { [string]$vm.Name })
        $owner = Get-ClusterRoleOwner -Name $Name -Known $Owners
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
    param([string]$Name, [string]$Id, [object[]]$From, [System.Collections.ArrayList]$Missing, [hashtable]$Owners)
    if ($null -eq $Missing) { return (Get-TargetVM -Name $Name -Id $Id -From $From -Owners $Owners) }
    try {
        Get-TargetVM -Name $Name -Id $Id -From $From -Owners $Owners
    } catch {
        $code = [string]$_.Exception.Data['hyperv_code']
        if ($code -ne 'vm_not_found' -and $code -ne 'owned_by_other_node') { throw }
        $label = $Name
        if ($Id) { $label = $Id }
        [void]$Missing.Add([ordered]@{ vm = $label; code = $code; message = $_.Exception.Message
            details = $_.Exception.Data['hyperv_details'] })
    }
}

function Get-SnapshotById {
    # One checkpoint read by its id (Get-VMSnapshot -Id, decompiled VirtualizationObjectLocator.GetVMSnapshotById),
    # or $null: ObjectNotFound for an id no checkpoint has. Unlike a VM's checkpoint list it is not served
    # from the module's 5-second cache (Get-CheckpointList).
    param([guid]$Id)
    Invoke-Lookup -Read { Hyper-V\Get-VMSnapshot -Id $Id }.GetNewClosure() | Select-Object -First 1
}

function Find-Checkpoint {
    # By id only: names are neither unique nor literal (-Name is a wildcard pattern). Read directly, not
    # found in a listing of all the VM's checkpoints; a checkpoint of another VM is not this VM's.
    param($VM, [string]$Id, [switch]$MustExist)
    $snapshot = $null
    $guid = [guid]::Empty
    if ([guid]::TryParse($Id, [ref]$guid)) {
        $snapshot = Get-SnapshotById -Id $guid
        if ($null -ne $snapshot -and [string]$snapshot.VMId -ne [string]$VM.Id) { $snapshot = $null }
    }
    if ($null -eq $snapshot -and $MustExist) {
        $message = "VM '{0}' has no checkpoint with id {1}" -f $VM.Name, $Id
        Stop-Operation -Code 'checkpoint_not_found' -Message $message -Details ([ordered]@{ vm = [string]$VM.Name; checkpoint = $Id })
    }
    $snapshot
}

function Get-CheckpointList {
    # The VM's checkpoints by creation time (Get-VMSnapshot -VM). The Hyper-V module serves what it read
    # about a VM less than 5 seconds before (decompiled DataUpdaterBase.GetData, Constants.UpdateThreshold),
    # and taking or deleting a checkpoint does not refresh it: $Taken (read by id since) are added when the
    # list misses them, the ids in $Removed are left out.
    param($VM, [object[]]$Taken, [string[]]$Removed)
    $listed = @(Hyper-V\Get-VMSnapshot -VM $VM | Where-Object { $Removed -notcontains [string]$_.Id })
    $ids = @(foreach ($snapshot in $listed) { [string]$snapshot.Id })
    $missed = @(foreach ($snapshot in $Taken) { if ($ids -notcontains [string]$snapshot.Id) { $snapshot } })
    @($listed + $missed | Sort-Object -Property CreationTime)
}

function Wait-CheckpointListRead {
    # Until a checkpoint list read at $ListedAt (UTC) is read anew, not served from the module's cache
    # (Get-CheckpointList): for a listing that must see a checkpoint whose id is not known.
    param([DateTime]$ListedAt)
    $left = ($ListedAt.AddSeconds(5.5) - [DateTime]::UtcNow).TotalMilliseconds
    if ($left -gt 0) { Start-Sleep -Milliseconds ([int][Math]::Ceiling($left)) }
}
