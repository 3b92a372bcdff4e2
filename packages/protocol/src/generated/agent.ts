import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  ActionOp as _rollgate_agent_v1_ActionOp,
  ActionOp__Output as _rollgate_agent_v1_ActionOp__Output,
} from './rollgate/agent/v1/ActionOp';
import type {
  ActionUpdate as _rollgate_agent_v1_ActionUpdate,
  ActionUpdate__Output as _rollgate_agent_v1_ActionUpdate__Output,
} from './rollgate/agent/v1/ActionUpdate';
import type {
  ActivateEditionOp as _rollgate_agent_v1_ActivateEditionOp,
  ActivateEditionOp__Output as _rollgate_agent_v1_ActivateEditionOp__Output,
} from './rollgate/agent/v1/ActivateEditionOp';
import type {
  AgentMessage as _rollgate_agent_v1_AgentMessage,
  AgentMessage__Output as _rollgate_agent_v1_AgentMessage__Output,
} from './rollgate/agent/v1/AgentMessage';
import type {
  AgentServiceClient as _rollgate_agent_v1_AgentServiceClient,
  AgentServiceDefinition as _rollgate_agent_v1_AgentServiceDefinition,
} from './rollgate/agent/v1/AgentService';
import type {
  ArtifactChunk as _rollgate_agent_v1_ArtifactChunk,
  ArtifactChunk__Output as _rollgate_agent_v1_ArtifactChunk__Output,
} from './rollgate/agent/v1/ArtifactChunk';
import type {
  BackupFilesOp as _rollgate_agent_v1_BackupFilesOp,
  BackupFilesOp__Output as _rollgate_agent_v1_BackupFilesOp__Output,
} from './rollgate/agent/v1/BackupFilesOp';
import type {
  CancelAction as _rollgate_agent_v1_CancelAction,
  CancelAction__Output as _rollgate_agent_v1_CancelAction__Output,
} from './rollgate/agent/v1/CancelAction';
import type {
  ConfigureServiceOp as _rollgate_agent_v1_ConfigureServiceOp,
  ConfigureServiceOp__Output as _rollgate_agent_v1_ConfigureServiceOp__Output,
} from './rollgate/agent/v1/ConfigureServiceOp';
import type {
  CoordinatorMessage as _rollgate_agent_v1_CoordinatorMessage,
  CoordinatorMessage__Output as _rollgate_agent_v1_CoordinatorMessage__Output,
} from './rollgate/agent/v1/CoordinatorMessage';
import type {
  DbBackupOp as _rollgate_agent_v1_DbBackupOp,
  DbBackupOp__Output as _rollgate_agent_v1_DbBackupOp__Output,
} from './rollgate/agent/v1/DbBackupOp';
import type {
  DbRestoreOp as _rollgate_agent_v1_DbRestoreOp,
  DbRestoreOp__Output as _rollgate_agent_v1_DbRestoreOp__Output,
} from './rollgate/agent/v1/DbRestoreOp';
import type {
  DrainOp as _rollgate_agent_v1_DrainOp,
  DrainOp__Output as _rollgate_agent_v1_DrainOp__Output,
} from './rollgate/agent/v1/DrainOp';
import type {
  FetchArtifactRequest as _rollgate_agent_v1_FetchArtifactRequest,
  FetchArtifactRequest__Output as _rollgate_agent_v1_FetchArtifactRequest__Output,
} from './rollgate/agent/v1/FetchArtifactRequest';
import type {
  FunctionalTestOp as _rollgate_agent_v1_FunctionalTestOp,
  FunctionalTestOp__Output as _rollgate_agent_v1_FunctionalTestOp__Output,
} from './rollgate/agent/v1/FunctionalTestOp';
import type {
  HealthReport as _rollgate_agent_v1_HealthReport,
  HealthReport__Output as _rollgate_agent_v1_HealthReport__Output,
} from './rollgate/agent/v1/HealthReport';
import type {
  Heartbeat as _rollgate_agent_v1_Heartbeat,
  Heartbeat__Output as _rollgate_agent_v1_Heartbeat__Output,
} from './rollgate/agent/v1/Heartbeat';
import type {
  Hello as _rollgate_agent_v1_Hello,
  Hello__Output as _rollgate_agent_v1_Hello__Output,
} from './rollgate/agent/v1/Hello';
import type {
  InstallEditionOp as _rollgate_agent_v1_InstallEditionOp,
  InstallEditionOp__Output as _rollgate_agent_v1_InstallEditionOp__Output,
} from './rollgate/agent/v1/InstallEditionOp';
import type {
  LogAck as _rollgate_agent_v1_LogAck,
  LogAck__Output as _rollgate_agent_v1_LogAck__Output,
} from './rollgate/agent/v1/LogAck';
import type {
  LogBatch as _rollgate_agent_v1_LogBatch,
  LogBatch__Output as _rollgate_agent_v1_LogBatch__Output,
} from './rollgate/agent/v1/LogBatch';
import type {
  LogLine as _rollgate_agent_v1_LogLine,
  LogLine__Output as _rollgate_agent_v1_LogLine__Output,
} from './rollgate/agent/v1/LogLine';
import type {
  ProbeOp as _rollgate_agent_v1_ProbeOp,
  ProbeOp__Output as _rollgate_agent_v1_ProbeOp__Output,
} from './rollgate/agent/v1/ProbeOp';
import type {
  RunAction as _rollgate_agent_v1_RunAction,
  RunAction__Output as _rollgate_agent_v1_RunAction__Output,
} from './rollgate/agent/v1/RunAction';
import type {
  RunCommandOp as _rollgate_agent_v1_RunCommandOp,
  RunCommandOp__Output as _rollgate_agent_v1_RunCommandOp__Output,
} from './rollgate/agent/v1/RunCommandOp';
import type {
  ServiceInventory as _rollgate_agent_v1_ServiceInventory,
  ServiceInventory__Output as _rollgate_agent_v1_ServiceInventory__Output,
} from './rollgate/agent/v1/ServiceInventory';
import type {
  SetGate as _rollgate_agent_v1_SetGate,
  SetGate__Output as _rollgate_agent_v1_SetGate__Output,
} from './rollgate/agent/v1/SetGate';
import type {
  SetGateOp as _rollgate_agent_v1_SetGateOp,
  SetGateOp__Output as _rollgate_agent_v1_SetGateOp__Output,
} from './rollgate/agent/v1/SetGateOp';
import type {
  StartBesideOp as _rollgate_agent_v1_StartBesideOp,
  StartBesideOp__Output as _rollgate_agent_v1_StartBesideOp__Output,
} from './rollgate/agent/v1/StartBesideOp';
import type {
  StartServiceOp as _rollgate_agent_v1_StartServiceOp,
  StartServiceOp__Output as _rollgate_agent_v1_StartServiceOp__Output,
} from './rollgate/agent/v1/StartServiceOp';
import type {
  StopBesideOp as _rollgate_agent_v1_StopBesideOp,
  StopBesideOp__Output as _rollgate_agent_v1_StopBesideOp__Output,
} from './rollgate/agent/v1/StopBesideOp';
import type {
  StopServiceOp as _rollgate_agent_v1_StopServiceOp,
  StopServiceOp__Output as _rollgate_agent_v1_StopServiceOp__Output,
} from './rollgate/agent/v1/StopServiceOp';
import type {
  UninstallOp as _rollgate_agent_v1_UninstallOp,
  UninstallOp__Output as _rollgate_agent_v1_UninstallOp__Output,
} from './rollgate/agent/v1/UninstallOp';
import type {
  WaitHealthyOp as _rollgate_agent_v1_WaitHealthyOp,
  WaitHealthyOp__Output as _rollgate_agent_v1_WaitHealthyOp__Output,
} from './rollgate/agent/v1/WaitHealthyOp';
import type {
  Welcome as _rollgate_agent_v1_Welcome,
  Welcome__Output as _rollgate_agent_v1_Welcome__Output,
} from './rollgate/agent/v1/Welcome';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  rollgate: {
    agent: {
      v1: {
        ActionOp: MessageTypeDefinition<_rollgate_agent_v1_ActionOp, _rollgate_agent_v1_ActionOp__Output>;
        ActionStatus: EnumTypeDefinition;
        ActionUpdate: MessageTypeDefinition<
          _rollgate_agent_v1_ActionUpdate,
          _rollgate_agent_v1_ActionUpdate__Output
        >;
        ActivateEditionOp: MessageTypeDefinition<
          _rollgate_agent_v1_ActivateEditionOp,
          _rollgate_agent_v1_ActivateEditionOp__Output
        >;
        AgentMessage: MessageTypeDefinition<
          _rollgate_agent_v1_AgentMessage,
          _rollgate_agent_v1_AgentMessage__Output
        >;
        AgentService: SubtypeConstructor<typeof grpc.Client, _rollgate_agent_v1_AgentServiceClient> & {
          service: _rollgate_agent_v1_AgentServiceDefinition;
        };
        ArtifactChunk: MessageTypeDefinition<
          _rollgate_agent_v1_ArtifactChunk,
          _rollgate_agent_v1_ArtifactChunk__Output
        >;
        BackupFilesOp: MessageTypeDefinition<
          _rollgate_agent_v1_BackupFilesOp,
          _rollgate_agent_v1_BackupFilesOp__Output
        >;
        CancelAction: MessageTypeDefinition<
          _rollgate_agent_v1_CancelAction,
          _rollgate_agent_v1_CancelAction__Output
        >;
        ConfigureServiceOp: MessageTypeDefinition<
          _rollgate_agent_v1_ConfigureServiceOp,
          _rollgate_agent_v1_ConfigureServiceOp__Output
        >;
        CoordinatorMessage: MessageTypeDefinition<
          _rollgate_agent_v1_CoordinatorMessage,
          _rollgate_agent_v1_CoordinatorMessage__Output
        >;
        DbBackupOp: MessageTypeDefinition<
          _rollgate_agent_v1_DbBackupOp,
          _rollgate_agent_v1_DbBackupOp__Output
        >;
        DbRestoreOp: MessageTypeDefinition<
          _rollgate_agent_v1_DbRestoreOp,
          _rollgate_agent_v1_DbRestoreOp__Output
        >;
        DrainOp: MessageTypeDefinition<_rollgate_agent_v1_DrainOp, _rollgate_agent_v1_DrainOp__Output>;
        FetchArtifactRequest: MessageTypeDefinition<
          _rollgate_agent_v1_FetchArtifactRequest,
          _rollgate_agent_v1_FetchArtifactRequest__Output
        >;
        FunctionalTestOp: MessageTypeDefinition<
          _rollgate_agent_v1_FunctionalTestOp,
          _rollgate_agent_v1_FunctionalTestOp__Output
        >;
        GateState: EnumTypeDefinition;
        HealthReport: MessageTypeDefinition<
          _rollgate_agent_v1_HealthReport,
          _rollgate_agent_v1_HealthReport__Output
        >;
        Heartbeat: MessageTypeDefinition<_rollgate_agent_v1_Heartbeat, _rollgate_agent_v1_Heartbeat__Output>;
        Hello: MessageTypeDefinition<_rollgate_agent_v1_Hello, _rollgate_agent_v1_Hello__Output>;
        InstallEditionOp: MessageTypeDefinition<
          _rollgate_agent_v1_InstallEditionOp,
          _rollgate_agent_v1_InstallEditionOp__Output
        >;
        LogAck: MessageTypeDefinition<_rollgate_agent_v1_LogAck, _rollgate_agent_v1_LogAck__Output>;
        LogBatch: MessageTypeDefinition<_rollgate_agent_v1_LogBatch, _rollgate_agent_v1_LogBatch__Output>;
        LogLevel: EnumTypeDefinition;
        LogLine: MessageTypeDefinition<_rollgate_agent_v1_LogLine, _rollgate_agent_v1_LogLine__Output>;
        ProbeOp: MessageTypeDefinition<_rollgate_agent_v1_ProbeOp, _rollgate_agent_v1_ProbeOp__Output>;
        RunAction: MessageTypeDefinition<_rollgate_agent_v1_RunAction, _rollgate_agent_v1_RunAction__Output>;
        RunCommandOp: MessageTypeDefinition<
          _rollgate_agent_v1_RunCommandOp,
          _rollgate_agent_v1_RunCommandOp__Output
        >;
        ServiceHealth: EnumTypeDefinition;
        ServiceInventory: MessageTypeDefinition<
          _rollgate_agent_v1_ServiceInventory,
          _rollgate_agent_v1_ServiceInventory__Output
        >;
        SetGate: MessageTypeDefinition<_rollgate_agent_v1_SetGate, _rollgate_agent_v1_SetGate__Output>;
        SetGateOp: MessageTypeDefinition<_rollgate_agent_v1_SetGateOp, _rollgate_agent_v1_SetGateOp__Output>;
        StartBesideOp: MessageTypeDefinition<
          _rollgate_agent_v1_StartBesideOp,
          _rollgate_agent_v1_StartBesideOp__Output
        >;
        StartServiceOp: MessageTypeDefinition<
          _rollgate_agent_v1_StartServiceOp,
          _rollgate_agent_v1_StartServiceOp__Output
        >;
        StopBesideOp: MessageTypeDefinition<
          _rollgate_agent_v1_StopBesideOp,
          _rollgate_agent_v1_StopBesideOp__Output
        >;
        StopServiceOp: MessageTypeDefinition<
          _rollgate_agent_v1_StopServiceOp,
          _rollgate_agent_v1_StopServiceOp__Output
        >;
        UninstallOp: MessageTypeDefinition<
          _rollgate_agent_v1_UninstallOp,
          _rollgate_agent_v1_UninstallOp__Output
        >;
        WaitHealthyOp: MessageTypeDefinition<
          _rollgate_agent_v1_WaitHealthyOp,
          _rollgate_agent_v1_WaitHealthyOp__Output
        >;
        Welcome: MessageTypeDefinition<_rollgate_agent_v1_Welcome, _rollgate_agent_v1_Welcome__Output>;
      };
    };
  };
}
