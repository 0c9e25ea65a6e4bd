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
    # Windows Server 2016, which does not have it.
    param([string]$Name)
    (Get-Command -Name 'Hyper-V\Set-VM').Parameters.ContainsKey($Name)
}

function Get-HostRecord {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    [ordered]@{
        computer_name = $env:COMPUTERNAME
        os_caption = ([string]$os.Caption).Trim()
        os_version = [string]$os.Version
        supports_checkpoint_type = (Test-SetVMParameter -Name 'CheckpointType')
        supports_automatic_checkpoints = (Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled')
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

function Get-VMClusterGroup {
    # FailoverClusters is optional (cluster nodes, RSAT). The module can be present without a
    # running cluster, so any failure of the lookup means "no cluster information", not an error.
    param([string]$Name, $VMId)
    if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterGroup' -ErrorAction SilentlyContinue)) { return $null }
    try {
        if ($null -ne $VMId) {
            return FailoverClusters\Get-ClusterGroup -VMId $VMId -ErrorAction Stop | Select-Object -First 1
        }
        return FailoverClusters\Get-ClusterGroup -ErrorAction Stop |
            Where-Object { $_.GroupType -eq 'VirtualMachine' -and $_.Name -ceq $Name } | Select-Object -First 1
    } catch {
        return $null
    }
}

function Get-TargetVM {
    # Names match literally and case-sensitively (Get-VM -Name is a wildcard pattern). $From lets
    # a caller resolve many names against one listing.
    param([string]$Name, [string]$Id, [object[]]$From)
    $group = $null
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
            $group = Get-VMClusterGroup -VMId $guid
        }
    } else {
        $label = $Name
        if ($null -eq $From) { $From = @(Hyper-V\Get-VM) }
        $found = @($From | Where-Object { $_.Name -ceq $Name })
        if ($found.Count -eq 1) { return $found[0] }
        if ($found.Count -gt 1) {
            $candidates = @(foreach ($vm in $found) { [ordered]@{ id = (ConvertTo-Text $vm.Id); name = [string]$vm.Name } })
            $message = "{0} VMs are named '{1}'; use the VM id" -f $found.Count, $Name
            Stop-Operation -Code 'ambiguous' -Message $message -Details ([ordered]@{ vm = $Name; matches = $candidates })
        }
        $group = Get-VMClusterGroup -Name $Name
    }
    $owner = $null
    if ($null -ne $group) { $owner = [string]$group.OwnerNode.Name }
    if ($owner -and $owner -ne $env:COMPUTERNAME) {
        $message = "VM '{0}' is a clustered VM owned by node {1}; run the task against that node" -f $label, $owner
        Stop-Operation -Code 'owned_by_other_node' -Message $message -Details ([ordered]@{ vm = $label; owner_node = $owner })
    }
    $message = "No VM '{0}' on host {1}" -f $label, $env:COMPUTERNAME
    Stop-Operation -Code 'vm_not_found' -Message $message -Details ([ordered]@{ vm = $label; computer_name = $env:COMPUTERNAME })
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

function ConvertTo-VMRecord {
    # $Snapshots: the VM's checkpoints, when the caller has listed them already.
    param($VM, [object[]]$Snapshots)
    if ($null -eq $Snapshots) { $Snapshots = @(Hyper-V\Get-VMSnapshot -VM $VM) }
    $checkpointType = $null
    if (Test-SetVMParameter -Name 'CheckpointType') { $checkpointType = ConvertTo-Text $VM.CheckpointType }
    $automatic = $null
    if (Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled') { $automatic = [bool]$VM.AutomaticCheckpointsEnabled }
    $owner = $null
    if ($VM.IsClustered) {
        $group = Get-VMClusterGroup -VMId $VM.Id
        if ($null -ne $group) { $owner = [string]$group.OwnerNode.Name }
    }
    $primary = ConvertTo-Text $VM.PrimaryOperationalStatus
    $secondary = ConvertTo-Text $VM.SecondaryOperationalStatus
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
        primary_status = $primary
        secondary_status = $secondary
        merging = ($primary -eq 'MergingDisks' -or $secondary -eq 'MergingDisks')
        checkpoint_count = @($Snapshots | Where-Object { [string]$_.SnapshotType -eq 'Standard' }).Count
    }
}

function Get-CheckpointSize {
    # Sum of the file sizes of the checkpoint's disks. Reporting only: a disk that cannot be read
    # (moved, in use on shared storage) gives $null instead of failing the whole query.
    param($Snapshot)
    try {
        $total = [long]0
        foreach ($drive in @(Hyper-V\Get-VMHardDiskDrive -VMSnapshot $Snapshot)) {
            $total += [long](Hyper-V\Get-VHD -Path $drive.Path).FileSize
        }
        return $total
    } catch {
        return $null
    }
}

function ConvertTo-CheckpointRecord {
    param($Snapshot, [switch]$IncludeSize)
    # IsAutomaticCheckpoint means something from Windows Server 2019 (WMI: Windows 10 1709). The
    # class is shared by module 2.0.0.0 on 2016 too, so gate it like the VM record does.
    $automatic = $null
    if ((Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled') -and $Snapshot.PSObject.Properties['IsAutomaticCheckpoint']) {
        $automatic = [bool]$Snapshot.IsAutomaticCheckpoint
    }
    $size = $null
    if ($IncludeSize) { $size = Get-CheckpointSize -Snapshot $Snapshot }
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
        size_bytes = $size
    }
}
