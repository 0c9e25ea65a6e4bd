param([string]$VMId, [string[]]$Ids, [bool]$IncludeChildren, [int]$MergeGraceSeconds)

$vm = Get-TargetVM -Id $VMId
$snapshots = @(Hyper-V\Get-VMSnapshot -VM $vm)
# The checkpoints "Now" derives from: deleting one of them merges into the VM's running disk chain.
$parents = @{}
foreach ($snapshot in $snapshots) { $parents[[string]$snapshot.Id] = ConvertTo-Text $snapshot.ParentSnapshotId }
$ancestors = @()
$id = ConvertTo-Text $vm.ParentSnapshotId
while ($id -and $ancestors -notcontains $id) { $ancestors += $id; $id = $parents[$id] }
$chainBefore = @(Get-ChainFiles -Drives @(Hyper-V\Get-VMHardDiskDrive -VM $vm)).Count
$expectMerge = $false
$removed = @()
foreach ($id in $Ids) {
    # Looked up again for every id: removing an earlier subtree may already have taken this one.
    $snapshot = Find-Checkpoint -VM $vm -Id $id
    if ($null -eq $snapshot) { continue }
    # Read before the delete: a deleted checkpoint's properties are read from the host again and throw.
    $removedId = [string]$snapshot.Id
    $hasChildren = @($parents.Keys | Where-Object { $parents[$_] -eq $removedId }).Count -gt 0
    if ($hasChildren -and -not $IncludeChildren) { $expectMerge = $true }
    # Returns while Hyper-V still merges the disks; the controller waits for the merge if asked.
    $null = Hyper-V\Remove-VMSnapshot -VMSnapshot $snapshot -IncludeAllChildSnapshots:$IncludeChildren -Confirm:$false
    $removed += $removedId
}
$merge = 'none'
if ($removed.Count -gt 0) {
    $left = @(foreach ($snapshot in @(Hyper-V\Get-VMSnapshot -VM $vm)) { [string]$snapshot.Id })
    $chainShrinks = @($ancestors | Where-Object { $left -notcontains $_ }).Count -gt 0
    $merge = 'unseen'
    if ($chainShrinks -or $expectMerge) {
        $merge = Wait-MergeVisible -VMId $VMId -ChainBefore $chainBefore -ChainShrinks $chainShrinks -Seconds $MergeGraceSeconds
    } else {
        # A leaf on another branch than "Now": its differencing disk is deleted, nothing is merged.
        $merge = 'done'
    }
}
# None left is not an error: a retry after a removal that succeeded must succeed too.
$vm = Get-TargetVM -Id $VMId
[ordered]@{ removed = $removed; merge = $merge; vm = (ConvertTo-VMRecord -VM $vm) }
