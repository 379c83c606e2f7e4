export { DisconnectReason, describeDisconnectReason, isDisconnectReason } from './disconnect-reason'
