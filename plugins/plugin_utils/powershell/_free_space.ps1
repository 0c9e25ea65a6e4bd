# Free space on the volumes that hold a VM's disks and checkpoints.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Get-VolumeTable {
    # The host's mounted volumes with their free space now, longest mount point first
    # (C:\ClusterStorage\Volume1\ before C:\): the cluster's Cluster Shared Volumes as the cluster
    # reports them (Get-ClusterSharedVolumeTable), then the Win32_Volume mount points. An operation
    # that lists many VMs reads it once.
    $shared = @(Get-ClusterSharedVolumeTable)
    $names = @{}
    foreach ($volume in $shared) { $names[$volume.Name.ToLowerInvariant()] = $true }
    $local = @(Get-CimInstance -ClassName Win32_Volume | Where-Object { $_.Name -and -not $names.ContainsKey(([string]$_.Name).ToLowerInvariant()) })
    @(@($shared) + @($local) | Sort-Object -Property @{ Expression = { ([string]$_.Name).Length }; Descending = $true })
}

function Get-ClusterSharedVolumeTable {
    # The Cluster Shared Volumes of this node's cluster, as Get-VolumeTable's entries (Name, FreeSpace,
    # Capacity): each is mounted under <system drive>\ClusterStorage\ on every node, and need not be a
    # Win32_Volume mount point there, so the cluster's own view is read (SharedVolumeInfo: the mount
    # point in FriendlyVolumeName, the sizes in Partition.Size and Partition.FreeSpace). No cluster, or a
    # cluster this user may not read: none, and a path under ClusterStorage then has unknown space.
    if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterSharedVolume' -ErrorAction SilentlyContinue)) { return @() }
    $volumes = @()
    try { $volumes = @(FailoverClusters\Get-ClusterSharedVolume -ErrorAction Stop) } catch { return @() }
    @(foreach ($volume in $volumes) {
        foreach ($info in @($volume.SharedVolumeInfo)) {
            $name = [string]$info.FriendlyVolumeName
            if (-not $name) { continue }
            if (-not $name.EndsWith('\')) { $name = $name + '\' }
            $free = $null
            $size = $null
            $partition = $info.Partition
            if ($null -ne $partition -and $null -ne $partition.FreeSpace -and $null -ne $partition.Size) {
                $free = [long]$partition.FreeSpace
                $size = [long]$partition.Size
            }
            New-Object PSObject -Property @{ Name = $name; FreeSpace = $free; Capacity = $size }
        }
    })
}

function Get-ClusterStorageRoot {
    # '<drive>:\ClusterStorage\<volume>\' when $Path is under a Cluster Shared Volume's mount point, else
    # $null: such a path is on that volume, never on the system drive that holds the mount point.
    param([string]$Path)
    $match = [regex]::Match($Path, '^[A-Za-z]:\\ClusterStorage\\[^\\]+', [Text.RegularExpressions.RegexOptions]::IgnoreCase)
    if (-not $match.Success) { return $null }
    $match.Value + '\'
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
        $shared = Get-ClusterStorageRoot -Path $path
        if ($null -ne $volume -and $null -ne $shared -and ([string]$volume.Name).Length -lt $shared.Length) {
            # Matched only the drive that holds the mount point: its space is another disk's.
            $volume = $null
            $root = $shared
        }
        if ($null -ne $volume) {
            $root = [string]$volume.Name
            if ($null -ne $volume.FreeSpace -and $null -ne $volume.Capacity) {
                $free = [long]$volume.FreeSpace
                $size = [long]$volume.Capacity
            }
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
