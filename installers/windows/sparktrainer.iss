; Inno Setup script for SparkTrainer Desktop on Windows.
;
; STATUS: NOT RUN. Written for a Windows build machine and never compiled or installed there: this
; project's machines are Linux only. Expect to fix details the first time it is used.
;
; Build on Windows, from the repository root:
;   1. python -m venv .venv && .venv\Scripts\pip install torch==2.13.0 -e ".[installer]"
;      (CUDA build: install the CUDA torch wheel instead, see installers/README.md)
;   2. .venv\Scripts\pyinstaller --noconfirm build.spec       -> dist\SparkTrainer\SparkTrainer.exe
;   3. iscc installers\windows\sparktrainer.iss                -> dist\SparkTrainer-Setup-0.1.0.exe
; The data home (%LOCALAPPDATA%\SparkTrainer) is left alone by the uninstaller.

#define AppName "SparkTrainer"
#define AppVersion "0.1.0"

[Setup]
AppId={{7E7C3B2A-4F0B-4C55-9D8E-5A2C1F6B9E41}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=SparkTrainer developers
DefaultDirName={autopf}\SparkTrainer
DefaultGroupName=SparkTrainer
OutputDir=..\..\dist
OutputBaseFilename=SparkTrainer-Setup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
ArchitecturesAllowed=x64compatible
ChangesEnvironment=yes
UninstallDisplayIcon={app}\SparkTrainer.exe

[Files]
Source: "..\..\dist\SparkTrainer\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion
; `spark-trainer` on the PATH: a wrapper that starts the executable's command-line role.
Source: "spark-trainer.cmd"; DestDir: "{app}\bin"; Flags: ignoreversion

[Icons]
Name: "{group}\SparkTrainer"; Filename: "{app}\SparkTrainer.exe"
Name: "{autodesktop}\SparkTrainer"; Filename: "{app}\SparkTrainer.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Registry]
Root: HKA; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}\bin"; \
  Check: NeedsAddPath(ExpandConstant('{app}\bin'))

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
    Path := '';
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;
