param([string]$Name, [string]$Id)

$vm = Get-TargetVM -Name $Name -Id $Id
[ordered]@{ vm = (ConvertTo-VMRecord -VM $vm) }
