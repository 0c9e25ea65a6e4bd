param([string]$VMId, [string[]]$Ids, [bool]$IncludeChildren)

$vm = Get-TargetVM -Id $VMId
$removed = @()
foreach ($id in $Ids) {
    # Looked up again for every id: removing an earlier subtree may already have taken this one.
    $snapshot = Find-Checkpoint -VM $vm -Id $id
    if ($null -eq $snapshot) { continue }
    # Returns while Hyper-V still merges the disks; the controller waits for the merge if asked.
    $null = Hyper-V\Remove-VMSnapshot -VMSnapshot $snapshot -IncludeAllChildSnapshots:$IncludeChildren -Confirm:$false
    $removed += ConvertTo-Text $snapshot.Id
}
# None left is not an error: a retry after a removal that succeeded must succeed too.
$vm = Get-TargetVM -Id $VMId
[ordered]@{ removed = $removed; vm = (ConvertTo-VMRecord -VM $vm) }
