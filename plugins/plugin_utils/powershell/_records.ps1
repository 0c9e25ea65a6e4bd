# The records of the protocol (docs/host-protocol.md) built from Hyper-V's objects: plain values only.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function ConvertTo-Text {
    # JSON-safe text: enum names and GUIDs (Guid.ToString() is lower case). $null and '' (a
    # nullable without value, the parent name of a root checkpoint) become $null.
    param($Value)
    $text = [string]$Value
    if ($text -eq '') { return $null }
    $text
}

function ConvertTo-VMRecord {
    # $Snapshots and $Drives: the VM's checkpoints and disk drives, when the caller has listed them
    # already; $Sizes: Get-DiskSizes, when sizes were asked for; $Features (Get-HostFeatures) and
    # $VolumeTable (Get-VolumeTable): read once by a caller that builds many records, else read here.
    # $HostedHere: the caller listed the VM on this node, whose node then owns it without asking the cluster;
    # $Owners (New-ClusterOwnerTable): the owners the operation read already, and keeps the one read here.
    param($VM, [object[]]$Snapshots, [object[]]$Drives, $Sizes, $Features, [object[]]$VolumeTable, [switch]$HostedHere,
        [hashtable]$Owners)
    if ($null -eq $Snapshots) { $Snapshots = @(Hyper-V\Get-VMSnapshot -VM $VM) }
    if ($null -eq $Drives) { $Drives = @(Hyper-V\Get-VMHardDiskDrive -VM $VM) }
    if ($null -eq $Features) { $Features = Get-HostFeatures }
    $checkpointType = $null
    if ($Features.checkpoint_type) { $checkpointType = ConvertTo-Text $VM.CheckpointType }
    $automatic = $null
    if ($Features.automatic_checkpoints) { $automatic = [bool]$VM.AutomaticCheckpointsEnabled }
    $owner = $null
    if ($VM.IsClustered -and $HostedHere) { $owner = $env:COMPUTERNAME }
    elseif ($VM.IsClustered) { $owner = Get-ClusterOwner -VMId $VM.Id -Known $Owners }
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
        volumes = @(Get-VMVolumes -VM $VM -Drives $Drives -VolumeTable $VolumeTable)
        disk_chain_bytes = $chainBytes
        type_override = $override
    }
}

function ConvertTo-CheckpointRecord {
    param($Snapshot, $Sizes, $Features)
    # IsAutomaticCheckpoint means something from Windows Server 2019 (WMI: Windows 10 1709). The
    # class is shared by module 2.0.0.0 on 2016 too, so gate it like the VM record does.
    if ($null -eq $Features) { $Features = Get-HostFeatures }
    $automatic = $null
    if ($Features.automatic_checkpoints -and $Snapshot.PSObject.Properties['IsAutomaticCheckpoint']) {
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
