# Functions shared by the operation scripts (docs/host-protocol.md). runner.ps1 dot-sources this
# text (the request's "common") into its own scope before it runs the operation script, for every
# operation: function definitions only, nothing that runs by itself.

function Stop-Operation {
    # The runner replies with hyperv_code / hyperv_details instead of the generic host_error.
    # Exception.Data only takes serializable values on .NET Framework; [ordered]@{} and @{} are.
    param([string]$Code, [string]$Message, [System.Collections.IDictionary]$Details)
    $ex = New-Object System.InvalidOperationException $Message
    $ex.Data['hyperv_code'] = $Code
    $ex.Data['hyperv_details'] = $Details
    throw $ex
}

function Get-ErrorId {
    # The error id of a Hyper-V cmdlet's error: the part of FullyQualifiedErrorId before the comma
    # (ErrorIdentifier in the decompiled module: ObjectInUse, InvalidState, OperationFailed, ...).
    param($Record)
    ([string]$Record.FullyQualifiedErrorId).Split(',')[0]
}

function Get-ErrorCode {
    # The runner's reply code and details for an error record, from what PowerShell gives (the
    # exception's data, the error id, the category, the exception type), never from the message,
    # which is localized. docs/host-protocol.md has the table and its sources.
    param($Record)
    $e = $Record.Exception
    if ($e.Data.Contains('hyperv_code')) {
        return [ordered]@{ code = [string]$e.Data['hyperv_code']; details = $e.Data['hyperv_details'] }
    }
    $id = Get-ErrorId -Record $Record
    $category = [string]$Record.CategoryInfo.Category
    $code = 'host_error'
    if ($id -eq 'ObjectInUse' -or $id -eq 'InvalidState' -or $category -eq 'ResourceBusy') { $code = 'busy' }
    elseif ($id -eq 'OperationTimeout') { $code = 'hyperv_timeout' }
    elseif ($id -eq 'AccessDenied' -or $category -eq 'PermissionDenied') { $code = 'access_denied' }
    elseif ($e -is [System.Management.Automation.CommandNotFoundException]) {
        # Only a missing Hyper-V cmdlet means the module is missing; the scripts module-qualify them.
        $command = [string]$e.CommandName
        if (-not $command) { $command = [string]$Record.TargetObject }
        if ($command -like 'Hyper-V\*') { $code = 'hyperv_module_missing' }
    }
    $details = [ordered]@{
        exception_type = $e.GetType().FullName; fully_qualified_error_id = [string]$Record.FullyQualifiedErrorId
        category = $category }
    [ordered]@{ code = $code; details = $details }
}

function ConvertTo-Text {
    # JSON-safe text: enum names and GUIDs (Guid.ToString() is lower case). $null and '' (a
    # nullable without value, the parent name of a root checkpoint) become $null.
    param($Value)
    $text = [string]$Value
    if ($text -eq '') { return $null }
    $text
}

function Test-SetVMParameter {
    # Feature detection instead of OS versions: the docs list -AutomaticCheckpointsEnabled for
    # Windows Server 2016, which does not have it. False without the Hyper-V module (a cluster
    # node that only manages the cluster).
    param([string]$Name)
    if (-not $global:HypervCache.ContainsKey('set-vm')) {
        $command = Get-Command -Name 'Hyper-V\Set-VM' -ErrorAction SilentlyContinue
        $global:HypervCache['set-vm'] = @{}
        if ($null -ne $command) { $global:HypervCache['set-vm'] = $command.Parameters }
    }
    $global:HypervCache['set-vm'].ContainsKey($Name)
}

function Get-HostRecord {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    [ordered]@{
        computer_name = $env:COMPUTERNAME
        os_caption = ([string]$os.Caption).Trim()
        os_version = [string]$os.Version
        supports_checkpoint_type = (Test-SetVMParameter -Name 'CheckpointType')
        supports_automatic_checkpoints = (Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled')
        time = [DateTime]::UtcNow.ToString('o')
    }
}

function Stop-Unsupported {
    # $Setting is the VM record key of the setting the host lacks.
    param([string]$Setting)
    $hostRecord = Get-HostRecord
    $message = "Host {0} runs {1} (version {2}), which does not support the {3} setting" -f @(
        $hostRecord.computer_name, $hostRecord.os_caption, $hostRecord.os_version, $Setting)
    Stop-Operation -Code 'unsupported_on_host' -Message $message -Details ([ordered]@{
        setting = $Setting; os_caption = $hostRecord.os_caption; os_version = $hostRecord.os_version })
}

function Get-ClusterOwner {
    # The node that owns a clustered VM, through the cluster's "Virtual Machine" resource whose VmId
    # is the VM's id (Get-ClusterResource -VMId); the names of roles and resources can differ from
    # the VM's (SCVMM, renamed roles). FailoverClusters is optional (cluster nodes, RSAT) and can be
    # present without a running cluster: any failure means "no cluster information".
    param($VMId)
    if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterResource' -ErrorAction SilentlyContinue)) { return $null }
    try {
        $resource = FailoverClusters\Get-ClusterResource -VMId $VMId -ErrorAction Stop | Select-Object -First 1
        if ($null -ne $resource) { return [string]$resource.OwnerNode.Name }
    } catch {
        return $null
    }
    $null
}

function Get-ClusterRoleOwner {
    # Without an id, a VM that is not on this host can only be recognised by its cluster role's name,
    # which is the VM's name unless someone (SCVMM, an administrator) named it otherwise.
    param([string]$Name)
    if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterGroup' -ErrorAction SilentlyContinue)) { return $null }
    try {
        $group = FailoverClusters\Get-ClusterGroup -ErrorAction Stop |
            Where-Object { [string]$_.GroupType -eq 'VirtualMachine' -and (Test-SameName $_.Name $Name) } | Select-Object -First 1
        if ($null -ne $group) { return [string]$group.OwnerNode.Name }
    } catch {
        return $null
    }
    $null
}

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

function Get-VolumeTable {
    # The host's mounted volumes, longest mount point first (C:\ClusterStorage\Volume1\ before C:\),
    # read once per operation: runner.ps1 empties $global:HypervCache before each one (a psrp runspace
    # keeps global variables from one operation to the next).
    if (-not $global:HypervCache.ContainsKey('volumes')) {
        $global:HypervCache['volumes'] = @(Get-CimInstance -ClassName Win32_Volume | Where-Object { $_.Name } |
            Sort-Object -Property @{ Expression = { ([string]$_.Name).Length }; Descending = $true })
    }
    $global:HypervCache['volumes']
}

function Get-VMVolumes {
    # The volumes that hold the VM's disks (differencing disks are made next to their parents) and
    # its checkpoint files: where a growing checkpoint runs out of space. A path on no local volume
    # (an SMB share) is listed by its root, without sizes. -Fresh reads the free space again.
    param($VM, [object[]]$Drives, [switch]$Fresh)
    if ($Fresh) { $global:HypervCache.Remove('volumes') }
    if ($null -eq $Drives) { $Drives = @(Hyper-V\Get-VMHardDiskDrive -VM $VM) }
    $paths = @(foreach ($drive in $Drives) { [string]$drive.Path }) + @([string]$VM.SnapshotFileLocation)
    $seen = @{}
    @(foreach ($path in $paths) {
        if (-not $path) { continue }
        $volume = $null
        foreach ($candidate in (Get-VolumeTable)) {
            if ($path.StartsWith([string]$candidate.Name, [StringComparison]::OrdinalIgnoreCase)) { $volume = $candidate; break }
        }
        $root = [IO.Path]::GetPathRoot($path)
        $free = $null
        $size = $null
        if ($null -ne $volume) {
            $root = [string]$volume.Name
            $free = [long]$volume.FreeSpace
            $size = [long]$volume.Capacity
        }
        if ($seen.ContainsKey($root.ToLowerInvariant())) { continue }
        $seen[$root.ToLowerInvariant()] = $true
        [ordered]@{ path = $root; free_bytes = $free; size_bytes = $size }
    })
}

function Find-LowVolume {
    # The first of the VM record's volumes with less than $MinFreeBytes free; $null when none is (or
    # when no minimum is asked for). A volume whose free space is unknown is not low.
    param([object[]]$Volumes, [long]$MinFreeBytes)
    if ($MinFreeBytes -le 0) { return $null }
    foreach ($volume in $Volumes) {
        if ($null -ne $volume.free_bytes -and $volume.free_bytes -lt $MinFreeBytes) { return $volume }
    }
    $null
}

function Stop-LowDiskSpace {
    # low_disk_space when a volume of the VM has less than $MinFreeBytes free: a checkpoint's
    # differencing disk grows with every write, and Hyper-V pauses the VM when its volume fills.
    param($VM, [object[]]$Volumes, [long]$MinFreeBytes)
    $low = Find-LowVolume -Volumes $Volumes -MinFreeBytes $MinFreeBytes
    if ($null -eq $low) { return }
    $message = "Volume {0} of VM '{1}' has {2:N1} GB free, less than the {3:N1} GB asked for; no checkpoint was taken" -f @(
        $low.path, $VM.Name, ($low.free_bytes / 1GB), ($MinFreeBytes / 1GB))
    Stop-Operation -Code 'low_disk_space' -Message $message -Details ([ordered]@{
        vm = [string]$VM.Name; volume = $low.path; free_bytes = $low.free_bytes; min_free_bytes = $MinFreeBytes })
}

function Test-ProductionFailure {
    # Whether a ProductionOnly Checkpoint-VM failed because the guest could not make a production
    # checkpoint: the failed CreateSnapshot job shows as OperationFailed (the probe records the id on
    # a real host). ObjectInUse, InvalidState, OperationTimeout, AccessDenied and the rest are other
    # failures, never a reason to take a standard checkpoint; an Off VM needs no guest at all.
    param($Record, $VM)
    (Get-ErrorId -Record $Record) -eq 'OperationFailed' -and $VM.state -ne 'Off'
}

function New-NamedCheckpoint {
    # Checkpoint-VM takes the checkpoint under Hyper-V's default name and only then renames it (two
    # steps, decompiled CheckpointVM). When the cmdlet fails after the first step, the checkpoint
    # exists under the default name: the one user checkpoint made since the attempt began is renamed.
    param($VM, [string]$Name, [string[]]$KnownIds)
    $started = [DateTime]::UtcNow.AddSeconds(-2)
    try {
        $snapshot = Hyper-V\Checkpoint-VM -VM $VM -SnapshotName $Name -Passthru
        return [ordered]@{ snapshot = $snapshot; name_repaired = $false }
    } catch {
        $failure = $_
        $made = @(Hyper-V\Get-VMSnapshot -VM $VM | Where-Object {
            $KnownIds -notcontains [string]$_.Id -and [string]$_.SnapshotType -eq 'Standard' -and
            -not ($_.PSObject.Properties['IsAutomaticCheckpoint'] -and $_.IsAutomaticCheckpoint) -and
            $_.CreationTime.ToUniversalTime() -ge $started })
        if ($made.Count -ne 1) { throw $failure }
        try {
            $null = Hyper-V\Rename-VMSnapshot -VMSnapshot $made[0] -NewName $Name
        } catch {
            # A name the host cannot set: no checkpoint under the default name is left behind.
            try { $null = Hyper-V\Remove-VMSnapshot -VMSnapshot $made[0] -Confirm:$false } catch { $made = @() }
            throw $failure
        }
        return [ordered]@{ snapshot = (Find-Checkpoint -VM $VM -Id ([string]$made[0].Id) -MustExist); name_repaired = $true }
    }
}

function Get-DiskFile {
    # Get-VHD of one disk file, read once per operation; $null when it cannot be read (moved, or in
    # use on shared storage by another node): sizes are for reporting only.
    param([string]$Path)
    $key = 'disk:' + $Path
    if (-not $global:HypervCache.ContainsKey($key)) {
        $file = $null
        try { $file = Hyper-V\Get-VHD -Path $Path } catch { $file = $null }
        $global:HypervCache[$key] = $file
    }
    $global:HypervCache[$key]
}

function Get-ChainFiles {
    # The files of the chains under the VM's running disks: each disk, its parent, ... down to the base disk.
    param([object[]]$Drives, [switch]$Fresh)
    if ($Fresh) { foreach ($key in @($global:HypervCache.Keys | Where-Object { $_ -like 'disk:*' })) { $global:HypervCache.Remove($key) } }
    @(foreach ($drive in $Drives) {
        $path = [string]$drive.Path
        while ($path) {
            $file = Get-DiskFile -Path $path
            if ($null -eq $file) { break }
            $file
            $path = [string]$file.ParentPath
        }
    })
}

function Get-DiskSizes {
    # Sizes of each checkpoint's own differencing disks and of the VM's disk chain. The disk that
    # Get-VMHardDiskDrive -VMSnapshot gives is the one the checkpoint froze (its parent side); the
    # .avhdx written after the checkpoint is the disk its child checkpoints froze, or the VM's running
    # disk when it is the VM's current checkpoint. So a root checkpoint's size is not its base disk.
    param($VM, [object[]]$Snapshots, [object[]]$Drives)
    $own = @{}
    $running = @(foreach ($drive in $Drives) { [string]$drive.Path })
    foreach ($snapshot in $Snapshots) {
        $parent = ConvertTo-Text $snapshot.ParentSnapshotId
        if (-not $parent) { continue }
        if (-not $own.ContainsKey($parent)) { $own[$parent] = @() }
        $own[$parent] += @(foreach ($drive in @(Hyper-V\Get-VMHardDiskDrive -VMSnapshot $snapshot)) { [string]$drive.Path })
    }
    $current = ConvertTo-Text $VM.ParentSnapshotId
    if ($current) {
        if (-not $own.ContainsKey($current)) { $own[$current] = @() }
        $own[$current] += $running
    }
    $sizes = @{}
    foreach ($snapshot in $Snapshots) {
        $id = [string]$snapshot.Id
        $total = [long]0
        if ($own.ContainsKey($id)) {
            foreach ($path in @($own[$id] | Select-Object -Unique)) {
                $file = Get-DiskFile -Path $path
                if ($null -eq $file) { $total = $null; break }
                $total += [long]$file.FileSize
            }
        }
        $sizes[$id] = $total
    }
    $chain = [long]0
    foreach ($file in (Get-ChainFiles -Drives $Drives)) { $chain += [long]$file.FileSize }
    [ordered]@{ checkpoints = $sizes; chain = $chain }
}

function Get-TypeOverridePath {
    param($VMId)
    [IO.Path]::Combine($env:ProgramData, 'hyperv.checkpoint', 'type-override', ([string]$VMId + '.txt'))
}

function Test-SharingViolation {
    # ERROR_SHARING_VIOLATION (32) or ERROR_LOCK_VIOLATION (33): another process holds the file.
    # PowerShell wraps an exception of a .NET method in a MethodInvocationException.
    param($Exception)
    while ($null -ne $Exception.InnerException -and -not ($Exception -is [System.IO.IOException])) {
        $Exception = $Exception.InnerException
    }
    $code = $Exception.HResult -band 0xFFFF
    $code -eq 32 -or $code -eq 33
}

function Get-TypeOverride {
    # A create that switches the VM-wide checkpoint type first writes the type to put back into a
    # marker file, and holds it open until it has put the type back. Held by another process: that
    # create still runs (live). Not held but not empty: it was killed (controller timeout, WinRS shell
    # deleted) before it put the type back, and the next create does.
    param($VMId)
    $path = Get-TypeOverridePath -VMId $VMId
    if (-not [IO.File]::Exists($path)) { return $null }
    try {
        $stream = [IO.File]::Open($path, [IO.FileMode]::Open, [IO.FileAccess]::ReadWrite, [IO.FileShare]::ReadWrite)
    } catch {
        if (Test-SharingViolation $_.Exception) { return [ordered]@{ original_type = $null; live = $true } }
        return $null
    }
    try { $original = Read-TypeOverride -Marker $stream } finally { $stream.Dispose() }
    if (-not $original) { return $null }
    [ordered]@{ original_type = $original; live = $false }
}

function Open-TypeOverride {
    # Takes the VM's marker (see Get-TypeOverride): the open file, which the caller disposes, or $null
    # when the marker cannot be written here (no right to ProgramData): the type is then still put back
    # at the end, only a killed run cannot be repaired later. Another create holding it: busy.
    param($VM)
    $path = Get-TypeOverridePath -VMId $VM.Id
    try {
        $null = [IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($path))
        return [IO.File]::Open($path, [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]::Read)
    } catch {
        if (Test-SharingViolation $_.Exception) {
            $message = "Another run is taking a checkpoint of VM '{0}' with its checkpoint type switched; try again when it is done" -f $VM.Name
            Stop-Operation -Code 'busy' -Message $message -Details ([ordered]@{ vm = [string]$VM.Name; reason = 'type_override_in_progress' })
        }
        return $null
    }
}

function Read-TypeOverride {
    param($Marker)
    if ($null -eq $Marker -or $Marker.Length -eq 0) { return $null }
    $null = $Marker.Seek(0, [IO.SeekOrigin]::Begin)
    $bytes = New-Object byte[] ([int]$Marker.Length)
    $null = $Marker.Read($bytes, 0, $bytes.Length)
    ConvertTo-Text ([Text.Encoding]::ASCII.GetString($bytes).Trim())
}

function Write-TypeOverride {
    # $Type: the type to put back; '' once it is back.
    param($Marker, [string]$Type)
    if ($null -eq $Marker) { return }
    $bytes = [Text.Encoding]::ASCII.GetBytes($Type)
    $Marker.SetLength(0)
    $Marker.Write($bytes, 0, $bytes.Length)
    $Marker.Flush($true)
}

function Close-TypeOverride {
    # Releases the marker; deletes it when no type is left to put back.
    param($Marker, $VMId)
    if ($null -eq $Marker) { return }
    $empty = $Marker.Length -eq 0
    $Marker.Dispose()
    # Another create may open it right now; then it stays, empty, and means nothing.
    if ($empty) { try { [IO.File]::Delete((Get-TypeOverridePath -VMId $VMId)) } catch { $empty = $null } }
}

function Clear-TypeOverride {
    # Forgets a type left to put back, once the VM's type has been set on purpose.
    param($VM)
    if ($null -eq (Get-TypeOverride -VMId $VM.Id)) { return }
    $marker = Open-TypeOverride -VM $VM
    $null = Write-TypeOverride -Marker $marker -Type ''
    $null = Close-TypeOverride -Marker $marker -VMId $VM.Id
}

function Test-Merging {
    param($VM)
    $primary = ConvertTo-Text $VM.PrimaryOperationalStatus
    $secondary = ConvertTo-Text $VM.SecondaryOperationalStatus
    ($primary -eq 'MergingDisks' -or $secondary -eq 'MergingDisks')
}

function Set-VMOff {
    # Off without Stop-VM: a turn-off or shut-down by Stop-VM deletes the VM's current checkpoint when
    # that is an automatic one (decompiled StopVM), e.g. the one just restored. Save-VM and
    # Remove-VMSavedState do not. Hosts before Windows Server 2016 lack Remove-VMSavedState, and
    # automatic checkpoints too: there Stop-VM -TurnOff deletes nothing.
    param($VM)
    $state = $VM.State.ToString()
    if ($state -eq 'Off') { return }
    if (-not (Get-Command -Name 'Hyper-V\Remove-VMSavedState' -ErrorAction SilentlyContinue)) {
        $null = Hyper-V\Stop-VM -VM $VM -TurnOff -Force -Confirm:$false
        return
    }
    if ($state -ne 'Saved') { $null = Hyper-V\Save-VM -VM $VM }
    $null = Hyper-V\Remove-VMSavedState -VM $VM
}

function Wait-MergeVisible {
    # Remove-VMSnapshot returns before the VM shows the merge it started. Polls for a short grace
    # period until the VM reports MergingDisks ('running') or, when the delete shortens the chain
    # under the VM's running disk, until the chain is shorter than before ('done': the merge ended
    # already); 'unseen' when neither happened in time.
    param([string]$VMId, [int]$ChainBefore, [bool]$ChainShrinks, [int]$Seconds)
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ($true) {
        $vm = Get-TargetVM -Id $VMId
        if (Test-Merging -VM $vm) { return 'running' }
        if ($ChainShrinks -and @(Get-ChainFiles -Drives @(Hyper-V\Get-VMHardDiskDrive -VM $vm) -Fresh).Count -lt $ChainBefore) {
            return 'done'
        }
        if ([DateTime]::UtcNow -ge $deadline) { return 'unseen' }
        Start-Sleep -Milliseconds 250
    }
}

function ConvertTo-VMRecord {
    # $Snapshots and $Drives: the VM's checkpoints and disk drives, when the caller has listed them
    # already; $Sizes: Get-DiskSizes, when sizes were asked for.
    param($VM, [object[]]$Snapshots, [object[]]$Drives, $Sizes)
    if ($null -eq $Snapshots) { $Snapshots = @(Hyper-V\Get-VMSnapshot -VM $VM) }
    if ($null -eq $Drives) { $Drives = @(Hyper-V\Get-VMHardDiskDrive -VM $VM) }
    $checkpointType = $null
    if (Test-SetVMParameter -Name 'CheckpointType') { $checkpointType = ConvertTo-Text $VM.CheckpointType }
    $automatic = $null
    if (Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled') { $automatic = [bool]$VM.AutomaticCheckpointsEnabled }
    $owner = $null
    if ($VM.IsClustered) { $owner = Get-ClusterOwner -VMId $VM.Id }
    $chainBytes = $null
    if ($null -ne $Sizes) { $chainBytes = $Sizes.chain }
    $override = Get-TypeOverride -VMId $VM.Id
    # Ids and the snapshot type always have a value: [string] of a Guid is its lower-case text.
    [ordered]@{
        id = [string]$VM.Id
        name = [string]$VM.Name
        state = $VM.State.ToString()
        checkpoint_type = $checkpointType
        automatic_checkpoints = $automatic
        checkpoint_location = [string]$VM.SnapshotFileLocation
        current_checkpoint_id = (ConvertTo-Text $VM.ParentSnapshotId)
        current_checkpoint_name = (ConvertTo-Text $VM.ParentSnapshotName)
        is_clustered = [bool]$VM.IsClustered
        owner_node = $owner
        computer_name = $env:COMPUTERNAME
        primary_status = (ConvertTo-Text $VM.PrimaryOperationalStatus)
        secondary_status = (ConvertTo-Text $VM.SecondaryOperationalStatus)
        merging = (Test-Merging -VM $VM)
        checkpoint_count = @($Snapshots | Where-Object { [string]$_.SnapshotType -eq 'Standard' }).Count
        volumes = @(Get-VMVolumes -VM $VM -Drives $Drives)
        disk_chain_bytes = $chainBytes
        type_override = $override
    }
}

function ConvertTo-CheckpointRecord {
    param($Snapshot, $Sizes)
    # IsAutomaticCheckpoint means something from Windows Server 2019 (WMI: Windows 10 1709). The
    # class is shared by module 2.0.0.0 on 2016 too, so gate it like the VM record does.
    $automatic = $null
    if ((Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled') -and $Snapshot.PSObject.Properties['IsAutomaticCheckpoint']) {
        $automatic = [bool]$Snapshot.IsAutomaticCheckpoint
    }
    $size = $null
    if ($null -ne $Sizes) { $size = $Sizes.checkpoints[[string]$Snapshot.Id] }
    [ordered]@{
        id = [string]$Snapshot.Id
        name = [string]$Snapshot.Name
        vm_id = [string]$Snapshot.VMId
        vm_name = [string]$Snapshot.VMName
        parent_id = (ConvertTo-Text $Snapshot.ParentSnapshotId)
        parent_name = (ConvertTo-Text $Snapshot.ParentSnapshotName)
        creation_time = $Snapshot.CreationTime.ToUniversalTime().ToString('o')
        snapshot_type = $Snapshot.SnapshotType.ToString()
        is_automatic = $automatic
        # VMSnapshot.State is Saved when the checkpoint holds a saved (memory) state, else Off.
        has_memory_state = ($Snapshot.State.ToString() -eq 'Saved')
        size_bytes = $size
    }
}
