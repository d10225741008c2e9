export { WebexEmulator } from './emulator.js';
export type {
  AckRecord,
  ActionReply,
  BotLike,
  ConnectionRecord,
  DeliveryRecord,
  EmulatedUser,
  EmulatorOptions,
  ExpiryRecord,
  FaultHitRecord,
  FrameRecord,
  FaultReply,
  PingRecord,
  PongMode,
  RegistrationRecord,
  Reply,
  ReplyOptions,
  RequestRecord,
  SayOptions,
  SayTarget,
  SubmitOptions,
  SharedFileInit,
  UploadRecord,
} from './emulator.js';
export type { EmulatedAction, EmulatedDevice, EmulatedFile, EmulatedMessage, EmulatedPerson, EmulatedRoom, EmulatedTeam, FileScan } from './model.js';
export type { InspectorEntry } from './ui.js';
