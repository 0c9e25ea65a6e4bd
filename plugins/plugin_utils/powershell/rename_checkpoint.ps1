param([string]$VMId, [string]$Id, [string]$NewName)

$vm = Get-TargetVM -Id $VMId
$snapshot = Find-Checkpoint -VM $vm -Id $Id -MustExist
$null = Hyper-V\Rename-VMSnapshot -VMSnapshot $snapshot -NewName $NewName
# Read back rather than trust the object that was passed in to show the new name.
$snapshot = Find-Checkpoint -VM $vm -Id $Id -MustExist
[ordered]@{ checkpoint = (ConvertTo-CheckpointRecord -Snapshot $snapshot) }
