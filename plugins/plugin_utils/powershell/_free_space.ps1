# Free space on the volumes that hold a VM's disks and checkpoints.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Get-VolumeTable {
    # The host's mounted volumes with their free space now, longest mount point first
    # (C:\ClusterStorage\Volume1\ before C:\). An operation that lists many VMs reads it once.
    @(Get-CimInstance -ClassName Win32_Volume | Where-Object { $_.Name } |
        Sort-Object -Property @{ Expression = { ([string]$_.Name).Length }; Descending = $true })
}

function Get-VMVolumes {
    # The volumes that hold the VM's disks (differencing disks are made next to their parents) and
    # its checkpoint files: where a growing checkpoint runs out of space. A path on no local volume
    # (an SMB share) is listed by its root, without sizes. Without $VolumeTable (Get-VolumeTable),
    # the free space is read now.
    param($VM, [object[]]$Drives, [object[]]$VolumeTable)
    if ($null -eq $VolumeTable) { $VolumeTable = Get-VolumeTable }
    if ($null -eq $Drives) { $Drives = @(Hyper-V\Get-VMHardDiskDrive -VM $VM) }
    $paths = @(foreach ($drive in $Drives) { [string]$drive.Path }) + @([string]$VM.SnapshotFileLocation)
    $seen = @{}
    @(foreach ($path in $paths) {
        if (-not $path) { continue }
        $volume = $null
        foreach ($candidate in $VolumeTable) {
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
