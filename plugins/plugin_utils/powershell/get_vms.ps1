param([string[]]$Names, [string[]]$Ids, [bool]$All, [bool]$IncludeCheckpoints, [bool]$IncludeSizes,
    [bool]$ReportMissing)

# Every VM is resolved before any record is built, so the first unknown name or id fails early
# (or, with $ReportMissing, is reported in "missing" and the others are listed).
$missing = New-Object System.Collections.ArrayList
$collect = $null
if ($ReportMissing) { $collect = $missing }
# What this operation learns of the cluster's owners: asked once, for this operation only.
$owners = New-ClusterOwnerTable
if ($All) {
    $vms = @(Hyper-V\Get-VM | Sort-Object -Property Name)
} else {
    # One read serves all names (of those VMs only, Get-VMByName); each name still matches literally.
    $listing = $null
    if ($Names) { $listing = @(Get-VMByName -Name $Names) }
    # Several clustered VMs: their owners from one listing of the cluster, not one lookup each. Read before
    # the names and ids this node does not run are looked for: that listing answers them too.
    $null = Read-ClusterOwners -VMs $listing -Known $owners
    $vms = @(foreach ($vmName in $Names) { Get-ListedVM -Name $vmName -From $listing -Missing $collect -Owners $owners }) +
        @(foreach ($vmId in $Ids) { Get-ListedVM -Id $vmId -Missing $collect -Owners $owners })
    $null = Read-ClusterOwners -VMs $vms -Known $owners
}

$features = Get-HostFeatures
$volumeTable = Get-VolumeTable
$records = @(foreach ($vm in $vms) {
    $snapshots = @(Hyper-V\Get-VMSnapshot -VM $vm | Sort-Object -Property CreationTime)
    $drives = @(Hyper-V\Get-VMHardDiskDrive -VM $vm)
    $sizes = $null
    if ($IncludeSizes) { $sizes = Get-DiskSizes -VM $vm -Snapshots $snapshots -Drives $drives }
    # A VM that this node's Get-VM lists runs here: listing the host asks the cluster about none of them.
    $record = ConvertTo-VMRecord -VM $vm -Snapshots $snapshots -Drives $drives -Sizes $sizes -Features $features -VolumeTable $volumeTable -HostedHere:$All -Owners $owners
    if ($IncludeCheckpoints) {
        $record['checkpoints'] = @(foreach ($snapshot in $snapshots) {
            ConvertTo-CheckpointRecord -Snapshot $snapshot -Sizes $sizes -Features $features
        })
    }
    $record
})
[ordered]@{ host = (Get-HostRecord); vms = $records; missing = @($missing) }
