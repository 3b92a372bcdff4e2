// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  SetGateOp as _rollgate_agent_v1_SetGateOp,
  SetGateOp__Output as _rollgate_agent_v1_SetGateOp__Output,
} from '../../../rollgate/agent/v1/SetGateOp';
import type {
  DrainOp as _rollgate_agent_v1_DrainOp,
  DrainOp__Output as _rollgate_agent_v1_DrainOp__Output,
} from '../../../rollgate/agent/v1/DrainOp';
import type {
  StopServiceOp as _rollgate_agent_v1_StopServiceOp,
  StopServiceOp__Output as _rollgate_agent_v1_StopServiceOp__Output,
} from '../../../rollgate/agent/v1/StopServiceOp';
import type {
  InstallEditionOp as _rollgate_agent_v1_InstallEditionOp,
  InstallEditionOp__Output as _rollgate_agent_v1_InstallEditionOp__Output,
} from '../../../rollgate/agent/v1/InstallEditionOp';
import type {
  ActivateEditionOp as _rollgate_agent_v1_ActivateEditionOp,
  ActivateEditionOp__Output as _rollgate_agent_v1_ActivateEditionOp__Output,
} from '../../../rollgate/agent/v1/ActivateEditionOp';
import type {
  ConfigureServiceOp as _rollgate_agent_v1_ConfigureServiceOp,
  ConfigureServiceOp__Output as _rollgate_agent_v1_ConfigureServiceOp__Output,
} from '../../../rollgate/agent/v1/ConfigureServiceOp';
import type {
  StartServiceOp as _rollgate_agent_v1_StartServiceOp,
  StartServiceOp__Output as _rollgate_agent_v1_StartServiceOp__Output,
} from '../../../rollgate/agent/v1/StartServiceOp';
import type {
  WaitHealthyOp as _rollgate_agent_v1_WaitHealthyOp,
  WaitHealthyOp__Output as _rollgate_agent_v1_WaitHealthyOp__Output,
} from '../../../rollgate/agent/v1/WaitHealthyOp';
import type {
  ProbeOp as _rollgate_agent_v1_ProbeOp,
  ProbeOp__Output as _rollgate_agent_v1_ProbeOp__Output,
} from '../../../rollgate/agent/v1/ProbeOp';
import type {
  RunCommandOp as _rollgate_agent_v1_RunCommandOp,
  RunCommandOp__Output as _rollgate_agent_v1_RunCommandOp__Output,
} from '../../../rollgate/agent/v1/RunCommandOp';
import type {
  BackupFilesOp as _rollgate_agent_v1_BackupFilesOp,
  BackupFilesOp__Output as _rollgate_agent_v1_BackupFilesOp__Output,
} from '../../../rollgate/agent/v1/BackupFilesOp';
import type {
  DbBackupOp as _rollgate_agent_v1_DbBackupOp,
  DbBackupOp__Output as _rollgate_agent_v1_DbBackupOp__Output,
} from '../../../rollgate/agent/v1/DbBackupOp';
import type {
  DbRestoreOp as _rollgate_agent_v1_DbRestoreOp,
  DbRestoreOp__Output as _rollgate_agent_v1_DbRestoreOp__Output,
} from '../../../rollgate/agent/v1/DbRestoreOp';
import type {
  FunctionalTestOp as _rollgate_agent_v1_FunctionalTestOp,
  FunctionalTestOp__Output as _rollgate_agent_v1_FunctionalTestOp__Output,
} from '../../../rollgate/agent/v1/FunctionalTestOp';
import type {
  UninstallOp as _rollgate_agent_v1_UninstallOp,
  UninstallOp__Output as _rollgate_agent_v1_UninstallOp__Output,
} from '../../../rollgate/agent/v1/UninstallOp';
import type {
  StartBesideOp as _rollgate_agent_v1_StartBesideOp,
  StartBesideOp__Output as _rollgate_agent_v1_StartBesideOp__Output,
} from '../../../rollgate/agent/v1/StartBesideOp';
import type {
  StopBesideOp as _rollgate_agent_v1_StopBesideOp,
  StopBesideOp__Output as _rollgate_agent_v1_StopBesideOp__Output,
} from '../../../rollgate/agent/v1/StopBesideOp';

export interface ActionOp {
  gate?: _rollgate_agent_v1_SetGateOp | null;
  drain?: _rollgate_agent_v1_DrainOp | null;
  stop?: _rollgate_agent_v1_StopServiceOp | null;
  install?: _rollgate_agent_v1_InstallEditionOp | null;
  activate?: _rollgate_agent_v1_ActivateEditionOp | null;
  configure?: _rollgate_agent_v1_ConfigureServiceOp | null;
  start?: _rollgate_agent_v1_StartServiceOp | null;
  waitHealthy?: _rollgate_agent_v1_WaitHealthyOp | null;
  probe?: _rollgate_agent_v1_ProbeOp | null;
  command?: _rollgate_agent_v1_RunCommandOp | null;
  backupFiles?: _rollgate_agent_v1_BackupFilesOp | null;
  dbBackup?: _rollgate_agent_v1_DbBackupOp | null;
  dbRestore?: _rollgate_agent_v1_DbRestoreOp | null;
  functionalTest?: _rollgate_agent_v1_FunctionalTestOp | null;
  uninstall?: _rollgate_agent_v1_UninstallOp | null;
  startBeside?: _rollgate_agent_v1_StartBesideOp | null;
  stopBeside?: _rollgate_agent_v1_StopBesideOp | null;
  op?:
    | 'gate'
    | 'drain'
    | 'stop'
    | 'install'
    | 'activate'
    | 'configure'
    | 'start'
    | 'waitHealthy'
    | 'probe'
    | 'command'
    | 'backupFiles'
    | 'dbBackup'
    | 'dbRestore'
    | 'functionalTest'
    | 'uninstall'
    | 'startBeside'
    | 'stopBeside';
}

export interface ActionOp__Output {
  gate?: _rollgate_agent_v1_SetGateOp__Output | null;
  drain?: _rollgate_agent_v1_DrainOp__Output | null;
  stop?: _rollgate_agent_v1_StopServiceOp__Output | null;
  install?: _rollgate_agent_v1_InstallEditionOp__Output | null;
  activate?: _rollgate_agent_v1_ActivateEditionOp__Output | null;
  configure?: _rollgate_agent_v1_ConfigureServiceOp__Output | null;
  start?: _rollgate_agent_v1_StartServiceOp__Output | null;
  waitHealthy?: _rollgate_agent_v1_WaitHealthyOp__Output | null;
  probe?: _rollgate_agent_v1_ProbeOp__Output | null;
  command?: _rollgate_agent_v1_RunCommandOp__Output | null;
  backupFiles?: _rollgate_agent_v1_BackupFilesOp__Output | null;
  dbBackup?: _rollgate_agent_v1_DbBackupOp__Output | null;
  dbRestore?: _rollgate_agent_v1_DbRestoreOp__Output | null;
  functionalTest?: _rollgate_agent_v1_FunctionalTestOp__Output | null;
  uninstall?: _rollgate_agent_v1_UninstallOp__Output | null;
  startBeside?: _rollgate_agent_v1_StartBesideOp__Output | null;
  stopBeside?: _rollgate_agent_v1_StopBesideOp__Output | null;
  op?:
    | 'gate'
    | 'drain'
    | 'stop'
    | 'install'
    | 'activate'
    | 'configure'
    | 'start'
    | 'waitHealthy'
    | 'probe'
    | 'command'
    | 'backupFiles'
    | 'dbBackup'
    | 'dbRestore'
    | 'functionalTest'
    | 'uninstall'
    | 'startBeside'
    | 'stopBeside';
}
