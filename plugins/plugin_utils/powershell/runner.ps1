$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding } catch {}
$rc = 0
$request = $null
try {
    $zip = [IO.MemoryStream]::new([Convert]::FromBase64String([string]::Join('', @($input))))
    $request = [IO.StreamReader]::new([IO.Compression.GZipStream]::new($zip, [IO.Compression.CompressionMode]'Decompress')).ReadToEnd() | ConvertFrom-Json
    $params = @{}
    foreach ($p in $request.params.PSObject.Properties) { $params[$p.Name] = $p.Value }
    . ([ScriptBlock]::Create([string]$request.common))
    $block = [ScriptBlock]::Create([string]$request.script)
    $reply = [ordered]@{ ok = $true; result = (& $block @params) }
} catch {
    $rc = 1
    $e = $_.Exception
    $code = 'host_error'
    $details = [ordered]@{ exception_type = $e.GetType().FullName; fully_qualified_error_id = [string]$_.FullyQualifiedErrorId; category = [string]$_.CategoryInfo.Category }
    if ($e.Data.Contains('hyperv_code')) { $code = $e.Data['hyperv_code']; $details = $e.Data['hyperv_details'] }
    elseif ($null -eq $request) { $code = 'invalid_request' }
    elseif ($e -is [System.Management.Automation.CommandNotFoundException]) { $code = 'hyperv_module_missing' }
    $reply = [ordered]@{ ok = $false; error = [ordered]@{ code = $code; message = $e.Message; details = $details } }
}
$json = ConvertTo-Json -InputObject $reply -Depth 12 -Compress
[regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
exit $rc
