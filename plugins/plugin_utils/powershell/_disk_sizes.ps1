# Sizes of the disk files behind a VM and its checkpoints (for reporting only).
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Get-DiskFile {
    # Get-VHD of one disk file; $null when it cannot be read (moved, or in use on shared storage by
    # another node): sizes are for reporting only. $Files keeps the files read, for a caller that
    # reads a file more than once (a disk is in its checkpoint's size and in the chain); without it
    # the file is read now (a merge may have changed the chain).
    param([string]$Path, [hashtable]$Files)
    if ($null -ne $Files -and $Files.ContainsKey($Path)) { return $Files[$Path] }
    $file = $null
    try { $file = Hyper-V\Get-VHD -Path $Path } catch { $file = $null }
    if ($null -ne $Files) { $Files[$Path] = $file }
    $file
}

function Get-ChainFiles {
    # The files of the chains under the VM's running disks: each disk, its parent, ... down to the base disk.
    # A file that cannot be read ends its chain; $Unread (a list), when given, gets its path.
    param([object[]]$Drives, [hashtable]$Files, [System.Collections.ArrayList]$Unread)
    @(foreach ($drive in $Drives) {
        $path = [string]$drive.Path
        while ($path) {
            $file = Get-DiskFile -Path $path -Files $Files
            if ($null -eq $file) {
                if ($null -ne $Unread) { [void]$Unread.Add($path) }
                break
            }
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
    $files = @{}
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
            # Each file once, whatever the case of its path: Select-Object -Unique compares case-sensitively
            # in Windows PowerShell 5.1, and Windows paths do not.
            $counted = New-Object -TypeName 'System.Collections.Generic.HashSet[string]' -ArgumentList @(, [StringComparer]::OrdinalIgnoreCase)
            foreach ($path in $own[$id]) {
                if (-not $counted.Add($path)) { continue }
                $file = Get-DiskFile -Path $path -Files $files
                if ($null -eq $file) { $total = $null; break }
                $total += [long]$file.FileSize
            }
        }
        $sizes[$id] = $total
    }
    # A file of the chain that cannot be read makes its size unknown, not a smaller sum.
    $unread = New-Object System.Collections.ArrayList
    $chain = [long]0
    foreach ($file in (Get-ChainFiles -Drives $Drives -Files $files -Unread $unread)) { $chain += [long]$file.FileSize }
    if ($unread.Count -gt 0) { $chain = $null }
    [ordered]@{ checkpoints = $sizes; chain = $chain }
}
