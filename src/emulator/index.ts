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
} from './emulator.js';
export type { EmulatedDevice, EmulatedMessage, EmulatedPerson, EmulatedRoom } from './model.js';
