export { WebexEmulator } from './emulator.js';
export type {
  AckRecord,
  ConnectionRecord,
  DeliveryRecord,
  EmulatorOptions,
  FaultHitRecord,
  FaultReply,
  PingRecord,
  PongMode,
  RegistrationRecord,
  RequestRecord,
  SharedFileInit,
  UploadRecord,
} from './emulator.js';
export type { EmulatedDevice, EmulatedFile, EmulatedMessage, EmulatedPerson, EmulatedRoom, FileScan } from './model.js';
