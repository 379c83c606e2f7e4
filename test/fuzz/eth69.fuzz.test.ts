import { describeEthFuzz } from './eth-fuzz'

describeEthFuzz(69)
