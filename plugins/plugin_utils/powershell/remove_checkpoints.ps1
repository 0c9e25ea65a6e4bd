param([string]$VMId, [string[]]$Ids, [bool]$IncludeChildren, [int]$MergeGraceSeconds)

function Get-Descendants {
    # The ids below checkpoint $Id in the tree $Parents (id -> parent id).
    param([hashtable]$Parents, [string]$Id)
    foreach ($child in @($Parents.Keys | Where-Object { $Parents[$_] -eq $Id })) {
        $child
        Get-Descendants -Parents $Parents -Id $child
    }
}

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
# Every id gone, with the subtrees that went with them: a read of the VM's checkpoints within 5 seconds
# still lists them (Get-CheckpointList), and how a read by id answers for a deleted one is unverified.
$gone = @()
foreach ($id in $Ids) {
    $snapshot = Find-Checkpoint -VM $vm -Id $id
    if ($null -eq $snapshot -or $gone -contains [string]$snapshot.Id) { continue }
    # Read before the delete: a deleted checkpoint's properties are the module's cached values at best.
    $removedId = [string]$snapshot.Id
    $hasChildren = @($parents.Keys | Where-Object { $parents[$_] -eq $removedId }).Count -gt 0
    if ($hasChildren -and -not $IncludeChildren) { $expectMerge = $true }
    # Returns while Hyper-V still merges the disks; the controller waits for the merge if asked.
    $null = Hyper-V\Remove-VMSnapshot -VMSnapshot $snapshot -IncludeAllChildSnapshots:$IncludeChildren -Confirm:$false
    $removed += $removedId
    $gone += $removedId
    if ($IncludeChildren) { $gone += @(Get-Descendants -Parents $parents -Id $removedId) }
}
$merge = 'none'
if ($removed.Count -gt 0) {
    $chainShrinks = @($ancestors | Where-Object { $gone -contains $_ }).Count -gt 0
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
$left = @(Get-CheckpointList -VM $vm -Removed $gone)
[ordered]@{ removed = $removed; merge = $merge; vm = (ConvertTo-VMRecord -VM $vm -Snapshots $left) }
