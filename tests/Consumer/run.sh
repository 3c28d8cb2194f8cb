#!/usr/bin/env bash
# Consumer test: pack Dien, then build and run a fresh console app outside the solution that
# references the package from a local folder feed plus the CPU backend, exactly as the README says.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A unique prerelease version, so the global package cache can never serve a stale copy.
version="$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$repo/src/Dien/Dien.csproj")-consumer.$(date +%s)"

echo "== consumer: pack Dien $version"
dotnet pack "$repo/src/Dien/Dien.csproj" -c Release -o "$work/feed" -p:Version="$version" --nologo -v quiet

echo "== consumer: new console app"
mkdir -p "$work/app"
cd "$work/app"
dotnet new console --framework net10.0 --name ConsumerApp --output . >/dev/null
# DIEN_CONSUMER_FRAMEWORK=net8.0 checks the package's net8.0 build (CI's net8.0 leg); the SDK's template offers net10.0 only.
sed -i "s:<TargetFramework>net10.0</TargetFramework>:<TargetFramework>${DIEN_CONSUMER_FRAMEWORK:-net10.0}</TargetFramework>:" ConsumerApp.csproj
grep -q "<TargetFramework>${DIEN_CONSUMER_FRAMEWORK:-net10.0}</TargetFramework>" ConsumerApp.csproj
cat > nuget.config <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local-feed" value="$work/feed" />
  </packageSources>
</configuration>
CONFIG
dotnet add package Dien --version "$version" >/dev/null
dotnet add package TorchSharp-cpu >/dev/null
cp "$repo/tests/Consumer/Program.cs" Program.cs

echo "== consumer: build and run"
dotnet build -c Release --nologo 2>&1 | tee build.log | grep -E "Dien:|error|warn" || true
if grep -q " error " build.log; then
  echo "error: the consumer app did not build" >&2
  exit 1
fi
dotnet run -c Release --no-build | tee run.log
grep -q "^consumer: ok" run.log
