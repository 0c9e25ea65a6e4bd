# A PowerShell module as users' .ps1 modules look: test_exec_wrapper_end_to_end.py sends it through
# ansible-core's exec wrapper to the simulated host, which answers without running it.

#AnsibleRequires -CSharpUtil Ansible.Basic

$spec = @{ options = @{ script = @{ type = 'str'; required = $true } } }
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $true
$module.ExitJson()
