if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') {
'{"ok":false,"error":{"code":"constrained_language","message":"PowerShell runs in ' + $ExecutionContext.SessionState.LanguageMode + ' mode; the runner needs FullLanguage"}}'
exit 1
}
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding } catch {}
$rc = 0
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
    $failure = [ordered]@{ code = 'invalid_request'; details = $null }
    if (${function:Get-ReplyFailure}) { $failure = Get-ReplyFailure $_ $params }
    $reply = [ordered]@{ ok = $false; error = [ordered]@{ code = $failure.code; message = $_.Exception.Message; details = $failure.details; computer_name = $env:COMPUTERNAME } }
}
$json = ConvertTo-Json -InputObject $reply -Depth 12 -Compress
[regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
exit $rc
