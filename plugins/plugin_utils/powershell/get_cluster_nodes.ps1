param()

# Run against a failover cluster's name (or any of its nodes): the nodes the inventory plugin
# then asks for their VMs, one by one, because the Hyper-V cmdlets only see the local host.
if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterNode' -ErrorAction SilentlyContinue)) {
    $message = "Host {0} has no FailoverClusters PowerShell module; it is not a cluster node" -f $env:COMPUTERNAME
    Stop-Operation -Code 'not_clustered' -Message $message -Details ([ordered]@{ computer_name = $env:COMPUTERNAME })
}
try {
    $nodes = @(FailoverClusters\Get-ClusterNode | Sort-Object -Property Name)
} catch {
    # The module is there but the host is in no cluster (or its cluster service is stopped).
    $message = "Host {0} is not a node of a running cluster: {1}" -f $env:COMPUTERNAME, $_.Exception.Message
    Stop-Operation -Code 'not_clustered' -Message $message -Details ([ordered]@{ computer_name = $env:COMPUTERNAME })
}
$records = @(foreach ($node in $nodes) {
    [ordered]@{ name = [string]$node.Name; state = (ConvertTo-Text $node.State) }
})
[ordered]@{ host = (Get-HostRecord); nodes = $records }
